//! `/logout`.

use super::*;

// ---- logout ----

on_both_stores!(logout_ends_the_session_revokes_the_refresh_token_and_clears_the_cookie);
async fn logout_ends_the_session_revokes_the_refresh_token_and_clears_the_cookie(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;

    let response = app.get_bearer("/logout", &tokens.access_token).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEARED_COOKIE.to_owned()]
    );
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;
    assert_eq!(requests(&app, "POST /oauth/revoke"), 1);
    let revoked = app
        .http
        .post(format!("{}/oauth/token", app.tenant.url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("refresh_token", tokens.refresh_token.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        revoked.status(),
        StatusCode::FORBIDDEN,
        "the refresh token is revoked at Auth0"
    );
}

#[tokio::test]
async fn logout_without_a_session_is_204_and_still_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEARED_COOKIE.to_owned()]
    );
}

#[tokio::test]
async fn logout_with_a_relative_redirect_goes_to_auth0_logout_on_the_original_host() {
    let app = TestApp::spawn().await;
    let response = app.password_login(WEBSITE).await;
    let handle = sid(response.headers());

    let response = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "/bye?x=1")])
        .header("client-type", WEBSITE)
        .header("cookie", format!("sid={handle}"))
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();

    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEARED_COOKIE.to_owned()]
    );
    let to = location(&response);
    assert!(
        to.starts_with(&format!("{}/v2/logout?", app.tenant.url())),
        "{to}"
    );
    let query = query_of(&to);
    assert_eq!(query["client_id"], "dev-website-client");
    assert_eq!(query["returnTo"], "https://app.example.com/bye?x=1");
    assert!(
        app.sessions
            .get_session(&auth0_client::session::SessionHandle::new(handle))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn logout_refuses_open_redirects() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    for attempt in [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "https://app.example.com.evil.example/",
        "https://app.example.com@evil.example/",
        "javascript:alert(1)",
        "http:evil.example",
        "evil.example",
    ] {
        let response = app
            .http
            .get(app.url("/logout"))
            .query(&[("redirect", attempt)])
            .header("client-type", TOKEN)
            .header("x-forwarded-host", "app.example.com")
            .bearer_auth(&tokens.access_token)
            .send()
            .await
            .unwrap();
        assert_error(response, 400).await;
    }
    assert_eq!(
        app.userinfo_status(&tokens.access_token).await,
        StatusCode::OK,
        "a refused logout leaves the session alone"
    );
}

#[tokio::test]
async fn logout_allows_an_absolute_redirect_on_the_original_host() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "https://app.example.com/bye")])
        .header("client-type", TOKEN)
        .header("x-forwarded-host", "app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_of(&location(&response))["returnTo"],
        "https://app.example.com/bye"
    );
}

#[tokio::test]
async fn logout_with_a_redirect_and_no_client_type_uses_the_sessions_client() {
    let app = TestApp::spawn().await;
    let handle = sid(app.password_login(WEBSITE).await.headers());

    let response = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "/")])
        .header("cookie", format!("sid={handle}"))
        .send()
        .await
        .unwrap();

    let query = query_of(&location(&response));
    assert_eq!(query["client_id"], "dev-website-client");
    assert_eq!(query["returnTo"], app.url("/"));
    let orphan = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "/")])
        .send()
        .await
        .unwrap();
    assert_error(orphan, 400).await;
}
