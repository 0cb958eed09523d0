use super::key_set::MIN_CACHE_AGE;
use super::*;
use serde_json::json;

fn expected<'a>(base_url: &'a str, issuer: &'a str, secret: &'a Secret) -> Expected<'a> {
    Expected {
        base_url,
        issuer,
        audience: "c",
        algorithms: &[Algorithm::RS256, Algorithm::HS256],
        client_secret: secret,
        nonce: None,
    }
}

fn hs256(claims: &Value, secret: &str) -> Secret {
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    Secret::new(token)
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn every_configurable_algorithm_is_the_verifier_algorithm_of_the_same_name() {
    for alg in SigningAlgorithm::ALL {
        assert_eq!(format!("{:?}", algorithm(alg)), alg.name());
    }
    assert_eq!(
        SigningAlgorithm::ALL.len(),
        12,
        "jsonwebtoken's 12 algorithms"
    );
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
    let result = cache
        .verify(
            &Secret::new(token),
            &expected("http://127.0.0.1:9", "http://t/", &secret),
        )
        .await;
    assert!(matches!(result, Err(TokenError::Malformed)), "{result:?}");
}

#[tokio::test]
async fn an_hs256_token_is_refused_when_the_client_allows_only_rs256() {
    let claims = json!({"sub":"x","iss":"http://t/","aud":"c","exp":9_999_999_999u64});
    let token = hs256(&claims, "public key bytes");
    let cache = JwksCache::new(reqwest::Client::new());
    let secret = Secret::new("s");
    let mut expected = expected("http://127.0.0.1:9", "http://t/", &secret);
    expected.algorithms = &[Algorithm::RS256];
    let result = cache.verify(&token, &expected).await;
    assert!(
        matches!(
            result,
            Err(TokenError::AlgorithmNotAllowed(Algorithm::HS256))
        ),
        "{result:?}"
    );
}

mod claims {
    use super::*;

    async fn verify(claims: Value) -> Result<Map<String, Value>, TokenError> {
        let cache = JwksCache::new(reqwest::Client::new());
        let secret = Secret::new("client-secret");
        cache
            .verify(
                &hs256(&claims, "client-secret"),
                &expected("http://127.0.0.1:9", "http://t/", &secret),
            )
            .await
    }

    #[tokio::test]
    async fn a_token_not_yet_valid_is_refused_within_the_leeway_of_exp() {
        let base = json!({"sub": "u", "iss": "http://t/", "aud": "c", "exp": now() + 7200});
        let mut future = base.clone();
        future["nbf"] = json!(now() + 3600);
        let result = verify(future).await;
        assert!(matches!(result, Err(TokenError::Invalid(_))), "{result:?}");
        let mut skewed = base.clone();
        skewed["nbf"] = json!(now() + 5);
        verify(skewed).await.unwrap();
        let mut past = base;
        past["nbf"] = json!(now() - 60);
        verify(past).await.unwrap();
    }

    #[tokio::test]
    async fn iss_must_be_the_expected_issuer_string() {
        let mut claims = json!({"sub": "u", "aud": "c", "exp": now() + 600});
        claims["iss"] = json!(["http://t/"]);
        let array = verify(claims.clone()).await;
        assert!(matches!(array, Err(TokenError::Invalid(_))), "{array:?}");
        claims["iss"] = json!(["http://t/", "http://other/"]);
        assert!(verify(claims.clone()).await.is_err());
        claims["iss"] = json!("http://other/");
        assert!(verify(claims.clone()).await.is_err());
        claims["iss"] = json!("http://t/");
        verify(claims).await.unwrap();
    }

    #[tokio::test]
    async fn sub_must_be_a_non_empty_string() {
        for sub in [json!(""), json!(42), json!(["u"]), json!(null)] {
            let claims = json!({"sub": sub, "iss": "http://t/", "aud": "c", "exp": now() + 600});
            assert!(verify(claims).await.is_err(), "{sub}");
        }
        let claims = json!({"iss": "http://t/", "aud": "c", "exp": now() + 600});
        assert!(verify(claims).await.is_err(), "no sub");
    }
}

mod cache {
    use super::*;
    use crate::clock::ManualClock;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::LineEnding;
    use rsa::traits::PublicKeyParts;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
        let public = rsa::RsaPublicKey::from(key);
        json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        })
    }

    fn token(key: &rsa::RsaPrivateKey, kid: &str, issuer: &str) -> Secret {
        let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap();
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let claims = json!({"sub": "u", "iss": issuer, "aud": "c", "exp": 9_999_999_999u64});
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        Secret::new(jsonwebtoken::encode(&header, &claims, &key).unwrap())
    }

    /// A JWKS endpoint whose document and `Cache-Control` the test changes, counting fetches.
    struct Jwks {
        base_url: String,
        issuer: String,
        document: Arc<Mutex<(Value, &'static str)>>,
        fetches: Arc<AtomicUsize>,
    }

    impl Jwks {
        async fn serve(document: Value, cache_control: &'static str) -> Jwks {
            let document = Arc::new(Mutex::new((document, cache_control)));
            let fetches = Arc::new(AtomicUsize::new(0));
            let (served, counted) = (document.clone(), fetches.clone());
            let router = axum::Router::new().route(
                "/.well-known/jwks.json",
                axum::routing::get(move || async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let (body, cache_control) = served.lock().unwrap().clone();
                    (
                        [(axum::http::header::CACHE_CONTROL, cache_control)],
                        axum::Json(body),
                    )
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base_url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, router).await });
            Jwks {
                issuer: format!("{base_url}/"),
                base_url,
                document,
                fetches,
            }
        }

        fn set(&self, document: Value) {
            self.document.lock().unwrap().0 = document;
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    fn keys() -> (rsa::RsaPrivateKey, rsa::RsaPrivateKey) {
        let mut rng = rand::thread_rng();
        (
            rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
        )
    }

    fn cache_with(clock: &Arc<ManualClock>) -> JwksCache {
        JwksCache::new(reqwest::Client::new()).with_clock(clock.clone())
    }

    fn clock() -> Arc<ManualClock> {
        ManualClock::new()
    }

    #[tokio::test]
    async fn an_unknown_kid_fetches_the_keys_again_at_most_once_per_interval() {
        let (old, new) = keys();
        let jwks = Jwks::serve(json!({"keys": [jwk(&old, "old")]}), "max-age=86400").await;
        let secret = Secret::new("s");
        let expected = expected(&jwks.base_url, &jwks.issuer, &secret);
        let clock = clock();
        let cache = cache_with(&clock).with_refetch_interval(Duration::from_secs(30));

        cache
            .verify(&token(&old, "old", &jwks.issuer), &expected)
            .await
            .unwrap();
        jwks.set(json!({"keys": [jwk(&old, "old"), jwk(&new, "new")]}));
        let too_soon = cache
            .verify(&token(&new, "new", &jwks.issuer), &expected)
            .await;
        assert!(
            matches!(too_soon, Err(TokenError::UnknownKey)),
            "{too_soon:?}"
        );
        assert_eq!(jwks.fetches(), 1);

        clock.advance(Duration::from_secs(31));
        cache
            .verify(&token(&new, "new", &jwks.issuer), &expected)
            .await
            .unwrap();
        cache
            .verify(&token(&old, "old", &jwks.issuer), &expected)
            .await
            .unwrap();
        assert_eq!(jwks.fetches(), 2);
    }

    #[tokio::test]
    async fn a_key_removed_by_the_tenant_stops_being_trusted_once_max_age_has_passed() {
        let (old, new) = keys();
        let jwks = Jwks::serve(
            json!({"keys": [jwk(&old, "old"), jwk(&new, "new")]}),
            "public, max-age=600",
        )
        .await;
        let secret = Secret::new("s");
        let expected = expected(&jwks.base_url, &jwks.issuer, &secret);
        let clock = clock();
        let cache = cache_with(&clock);
        let old_token = token(&old, "old", &jwks.issuer);

        cache.verify(&old_token, &expected).await.unwrap();
        jwks.set(json!({"keys": [jwk(&new, "new")]}));
        clock.advance(Duration::from_secs(599));
        cache.verify(&old_token, &expected).await.unwrap();
        assert_eq!(jwks.fetches(), 1, "fresh for max-age");

        clock.advance(Duration::from_secs(2));
        let removed = cache.verify(&old_token, &expected).await;
        assert!(
            matches!(removed, Err(TokenError::UnknownKey)),
            "{removed:?}"
        );
        assert_eq!(jwks.fetches(), 2, "fetched again after max-age");
        cache
            .verify(&token(&new, "new", &jwks.issuer), &expected)
            .await
            .unwrap();
        assert_eq!(jwks.fetches(), 2);
    }

    #[tokio::test]
    async fn a_tiny_max_age_is_raised_to_the_floor() {
        let (old, new) = keys();
        let jwks = Jwks::serve(json!({"keys": [jwk(&old, "old")]}), "max-age=1").await;
        let secret = Secret::new("s");
        let expected = expected(&jwks.base_url, &jwks.issuer, &secret);
        let clock = clock();
        let cache = cache_with(&clock);
        let old_token = token(&old, "old", &jwks.issuer);
        cache.verify(&old_token, &expected).await.unwrap();
        jwks.set(json!({"keys": [jwk(&new, "new")]}));
        clock.advance(MIN_CACHE_AGE - Duration::from_secs(1));
        cache.verify(&old_token, &expected).await.unwrap();
        assert_eq!(jwks.fetches(), 1);
        clock.advance(Duration::from_secs(2));
        assert!(cache.verify(&old_token, &expected).await.is_err());
        assert_eq!(jwks.fetches(), 2);
    }

    #[tokio::test]
    async fn one_unusable_key_does_not_make_the_set_unreadable() {
        let (good, _) = keys();
        let jwks = Jwks::serve(
            json!({"keys": [
                {"kty": "EC", "crv": "P-521", "alg": "ES512", "kid": "p521", "x": "AA", "y": "AA"},
                {"kty": "EC", "crv": "P-256", "use": "enc", "alg": "ECDH-ES", "kid": "enc", "x": "AA", "y": "AA"},
                {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": "AA"},
                17,
                jwk(&good, "good"),
            ]}),
            "max-age=600",
        )
        .await;
        let secret = Secret::new("s");
        let expected = expected(&jwks.base_url, &jwks.issuer, &secret);
        let cache = JwksCache::new(reqwest::Client::new());
        cache
            .verify(&token(&good, "good", &jwks.issuer), &expected)
            .await
            .unwrap();
    }
}
