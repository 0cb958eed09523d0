//! Auth0 down or slow, the session store down (SPEC §6).

use super::*;

// ---- Auth0 down or slow ----

#[tokio::test]
async fn auth0_failing_is_502_and_auth0_unreachable_is_502() {
    let app = TestApp::spawn().await;
    app.tenant.faults().set_error("/oauth/token", 500);
    assert_error(app.password_login(TOKEN).await, 502).await;
    app.tenant.faults().clear();
    app.tenant.faults().set_drop("/oauth/token");
    assert_error(app.password_login(TOKEN).await, 502).await;
}

#[tokio::test]
async fn auth0_too_slow_is_504() {
    let timeout = Duration::from_millis(300);
    let app = TestApp::spawn_with(Options {
        tuning: Box::new(move |tuning| tuning.auth0_call_timeout = timeout),
        ..Options::default()
    })
    .await;
    app.tenant
        .faults()
        .set_latency("/oauth/token", timeout + Duration::from_secs(2));
    assert_error(app.password_login(TOKEN).await, 504).await;
}

#[tokio::test]
async fn the_signing_keys_check_up_follows_the_tenant() {
    let app = TestApp::spawn().await;
    assert_eq!(app.login.check_signing_keys().await, Ok(()));
    app.tenant.faults().set_error("/.well-known/jwks.json", 503);
    let failure = app.login.check_signing_keys().await.unwrap_err();
    assert!(failure.contains("unavailable"), "{failure}");
}

// ---- session store down (SPEC §6) ----

#[tokio::test]
async fn session_routes_answer_503_quickly_while_redis_is_down_and_recover_after() {
    let mut app = TestApp::spawn_on(Store::Redis).await;
    let tokens = app.login_tokens().await;
    app.redis.as_mut().unwrap().stop().await;

    let started = std::time::Instant::now();
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 503).await;
    assert_error(app.authorize(Some(WEBSITE), &[]).await, 503).await;
    assert_error(app.password_login(TOKEN).await, 503).await;
    assert_error(app.get_bearer("/logout", &tokens.access_token).await, 503).await;
    let refresh = app
        .refresh("/oauth/refreshtoken", &tokens.access_token, "x")
        .await;
    assert_error(refresh, 503).await;
    // Bounded only to catch a hang: how fast a 503 comes is the store timeouts' matter.
    assert!(
        started.elapsed() < crate::support::wait::PATIENCE,
        "hung for {:?}",
        started.elapsed()
    );

    app.redis.as_mut().unwrap().restart().await;
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = app.userinfo_status(&tokens.access_token).await;
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "the session outlived the outage");
}
