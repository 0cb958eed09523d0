#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_default_to_rs256_and_none_is_refused() {
        assert_eq!(parse_algorithms(&[]).unwrap(), vec![Algorithm::RS256]);
        assert_eq!(
            parse_algorithms(&["RS256".into(), "ES256".into()]).unwrap(),
            vec![Algorithm::RS256, Algorithm::ES256]
        );
        assert!(parse_algorithms(&["none".into()]).is_err());
    }

    #[tokio::test]
    async fn a_token_with_alg_none_is_malformed() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(r#"{"sub":"x","iss":"http://t/","aud":"c","exp":9999999999}"#)
        );
        let cache = JwksCache::new(reqwest::Client::new());
        let secret = Secret::new("s");
        let expected = Expected {
            base_url: "http://127.0.0.1:9",
            issuer: "http://t/",
            audience: "c",
            algorithms: &[Algorithm::RS256],
            client_secret: &secret,
            nonce: None,
        };
        let result = cache.verify(&Secret::new(token), &expected).await;
        assert!(matches!(result, Err(TokenError::Malformed)), "{result:?}");
    }

    #[tokio::test]
    async fn an_hs256_token_is_refused_when_the_client_allows_only_rs256() {
        let claims =
            serde_json::json!({"sub":"x","iss":"http://t/","aud":"c","exp":9_999_999_999u64});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"public key bytes"),
        )
        .unwrap();
        let cache = JwksCache::new(reqwest::Client::new());
        let secret = Secret::new("s");
        let expected = Expected {
            base_url: "http://127.0.0.1:9",
            issuer: "http://t/",
            audience: "c",
            algorithms: &[Algorithm::RS256],
            client_secret: &secret,
            nonce: None,
        };
        let result = cache.verify(&Secret::new(token), &expected).await;
        assert!(
            matches!(
                result,
                Err(TokenError::AlgorithmNotAllowed(Algorithm::HS256))
            ),
            "{result:?}"
        );
    }

    mod rotation {
        use super::*;
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::LineEnding;
        use rsa::traits::PublicKeyParts;
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};

        fn jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
            let public = rsa::RsaPublicKey::from(key);
            serde_json::json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            })
        }

        fn token(key: &rsa::RsaPrivateKey, kid: &str, issuer: &str) -> Secret {
            let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap();
            let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
            header.kid = Some(kid.to_owned());
            let claims =
                serde_json::json!({"sub": "u", "iss": issuer, "aud": "c", "exp": 9_999_999_999u64});
            let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            Secret::new(jsonwebtoken::encode(&header, &claims, &key).unwrap())
        }

        #[tokio::test]
        async fn an_unknown_kid_fetches_the_keys_again_at_most_once_per_interval() {
            let mut rng = rand::thread_rng();
            let (old, new) = (
                rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
                rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            );
            let jwks = Arc::new(Mutex::new(serde_json::json!({"keys": [jwk(&old, "old")]})));
            let fetches = Arc::new(AtomicUsize::new(0));
            let (served, counted) = (jwks.clone(), fetches.clone());
            let router = axum::Router::new().route(
                "/.well-known/jwks.json",
                axum::routing::get(move || async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    axum::Json(served.lock().unwrap().clone())
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base_url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, router).await });
            let issuer = format!("{base_url}/");
            let secret = Secret::new("s");
            let expected = Expected {
                base_url: &base_url,
                issuer: &issuer,
                audience: "c",
                algorithms: &[Algorithm::RS256],
                client_secret: &secret,
                nonce: None,
            };
            let cache = JwksCache::new(reqwest::Client::new())
                .with_refetch_interval(Duration::from_millis(300));

            cache
                .verify(&token(&old, "old", &issuer), &expected)
                .await
                .unwrap();
            *jwks.lock().unwrap() =
                serde_json::json!({"keys": [jwk(&old, "old"), jwk(&new, "new")]});
            let too_soon = cache.verify(&token(&new, "new", &issuer), &expected).await;
            assert!(
                matches!(too_soon, Err(TokenError::UnknownKey)),
                "{too_soon:?}"
            );
            assert_eq!(fetches.load(Ordering::SeqCst), 1);

            tokio::time::sleep(Duration::from_millis(350)).await;
            cache
                .verify(&token(&new, "new", &issuer), &expected)
                .await
                .unwrap();
            cache
                .verify(&token(&old, "old", &issuer), &expected)
                .await
                .unwrap();
            assert_eq!(fetches.load(Ordering::SeqCst), 2);
        }
    }
}
