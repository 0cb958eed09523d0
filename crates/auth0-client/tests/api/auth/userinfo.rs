//! `/userinfo`: answered from the store, transparent refresh of an expired access token.

use super::*;

// ---- /userinfo ----

#[tokio::test]
async fn userinfo_without_a_handle_or_with_an_unknown_one_is_401() {
    let app = TestApp::spawn().await;
    let none = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_error(none, 401).await;
    assert_error(app.get_bearer("/userinfo", "not-a-session").await, 401).await;
    let cookie = app
        .http
        .get(app.url("/userinfo"))
        .header("cookie", "sid=unknown")
        .send()
        .await
        .unwrap();
    assert_error(cookie, 401).await;
}

#[tokio::test]
async fn userinfo_answers_from_the_store_without_calling_auth0() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    for _ in 0..5 {
        assert_eq!(
            app.userinfo_status(&tokens.access_token).await,
            StatusCode::OK
        );
    }
    assert_eq!(requests(&app, "GET /userinfo"), 0);
}

#[tokio::test]
async fn a_session_without_a_refresh_token_outlives_its_access_token() {
    let app = TestApp::spawn().await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let handle = sid(app.password_login(WEBSITE).await.headers());
    app.clock.advance(Duration::from_secs(2));

    let response = app
        .http
        .get(app.url("/userinfo"))
        .header("cookie", format!("sid={handle}"))
        .send()
        .await
        .unwrap();

    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session lasts SESSION_DURATION_SECONDS"
    );
    assert_eq!(grants(&app, "refresh_token"), 0);
}

#[tokio::test]
async fn the_signing_keys_are_fetched_once_for_many_logins() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.login_tokens().await;
    }
    assert_eq!(requests(&app, "GET /.well-known/jwks.json"), 1);
}

#[tokio::test]
async fn users_me_answers_the_same_user_with_a_deprecation_header() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    let userinfo: Value = app
        .get_bearer("/userinfo", &tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    let me = app.get_bearer("/users/me", &tokens.access_token).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.headers()["deprecation"], "true");
    assert_eq!(me.json::<Value>().await.unwrap(), userinfo);
}

on_both_stores!(an_expired_access_token_is_refreshed_transparently_by_userinfo);
async fn an_expired_access_token_is_refreshed_transparently_by_userinfo(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens_expired().await;

    let response = app.get_bearer("/userinfo", &tokens.access_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["userId"],
        DEV_USER_ID
    );
    assert_eq!(grants(&app, "refresh_token"), 1);
    app.tenant.faults().clear();
    assert_eq!(
        app.userinfo_status(&tokens.access_token).await,
        StatusCode::OK
    );
}

on_both_stores!(concurrent_userinfo_calls_on_an_expired_session_refresh_once);
async fn concurrent_userinfo_calls_on_an_expired_session_refresh_once(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens_expired().await;

    let calls = (0..12).map(|_| app.get_bearer("/userinfo", &tokens.access_token));
    let responses = futures::future::join_all(calls).await;

    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(grants(&app, "refresh_token"), 1);
}

on_both_stores!(a_refresh_lock_left_by_a_crashed_replica_only_delays_the_refresh);
async fn a_refresh_lock_left_by_a_crashed_replica_only_delays_the_refresh(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens_expired().await;
    let handle = auth0_client::session::SessionHandle::new(tokens.access_token.clone());
    let lease = Duration::from_millis(300);
    let before_lock = std::time::SystemTime::now();
    let taken = app
        .sessions
        .try_lock(&format!("refresh:{}", handle.key()), lease)
        .await;
    assert!(taken.unwrap().is_some(), "the test holds the lock");

    let response = app.get_bearer("/userinfo", &tokens.access_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    // Order, not a window: the refresh could only start once the crashed holder's lease
    // had run out, so the answer comes after it.
    assert!(
        whole_ms_between(before_lock, std::time::SystemTime::now()) >= lease.as_millis(),
        "it waited for the lease"
    );
    assert_eq!(grants(&app, "refresh_token"), 1);
}

#[tokio::test]
async fn an_auth0_outage_during_a_transparent_refresh_is_502_and_the_session_survives() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens_expired().await;
    app.tenant.faults().set_error("/oauth/token", 503);

    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 502).await;

    app.tenant.faults().clear();
    assert_eq!(
        app.userinfo_status(&tokens.access_token).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refresh_token_revoked_at_auth0_ends_the_session_at_the_next_refresh() {
    let app = TestApp::spawn().await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    app.tenant.faults().clear();
    app.revoke_at_tenant(tokens.refresh_token.as_deref().unwrap())
        .await;
    app.clock.advance(Duration::from_secs(2));

    let message = assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;

    assert!(message.contains("refresh token"), "{message}");
    let handle = auth0_client::session::SessionHandle::new(tokens.access_token.clone());
    assert!(app.sessions.get_session(&handle).await.unwrap().is_none());
}
