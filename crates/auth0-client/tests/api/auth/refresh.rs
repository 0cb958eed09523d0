//! `/oauth/refreshtoken`: rotation, the grace of the old handle, single flight.

use super::*;

// ---- refresh ----

on_both_stores!(refresh_rotates_the_session_to_the_new_access_token);
async fn refresh_rotates_the_session_to_the_new_access_token(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    let old_refresh = tokens.refresh_token.clone().unwrap();

    let response = app
        .refresh("/oauth/refreshtoken", &tokens.access_token, &old_refresh)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Tokens = response.json().await.unwrap();
    assert_ne!(rotated.access_token, tokens.access_token);
    assert_ne!(rotated.refresh_token.as_deref(), Some(old_refresh.as_str()));
    assert_eq!(
        app.userinfo_status(&rotated.access_token).await,
        StatusCode::OK
    );
    assert_eq!(
        app.userinfo_status(&tokens.access_token).await,
        StatusCode::OK,
        "the old handle keeps working during the grace period"
    );
    let stale = app
        .refresh("/refreshtoken", &rotated.access_token, &old_refresh)
        .await;
    assert_error(stale, 401).await;
    let again = app
        .refresh(
            "/refreshtoken",
            &rotated.access_token,
            rotated.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
}

on_both_stores!(the_login_refresh_token_still_refreshes_after_transparent_refreshes);
async fn the_login_refresh_token_still_refreshes_after_transparent_refreshes(store: Store) {
    let app = TestApp::spawn_on(store).await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    let login_refresh = tokens.refresh_token.clone().unwrap();
    // Two transparent refreshes: Auth0 rotates the refresh token each time, the caller
    // never sees the new ones.
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(2));
        let response = app.get_bearer("/userinfo", &tokens.access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(grants(&app, "refresh_token"), 2);
    let stranger = app.login_tokens().await;
    let refused = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            stranger.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_error(refused, 401).await;

    let response = app
        .refresh("/oauth/refreshtoken", &tokens.access_token, &login_refresh)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Tokens = response.json().await.unwrap();
    assert_eq!(grants(&app, "refresh_token"), 3);
    let stale = app
        .refresh("/oauth/refreshtoken", &rotated.access_token, &login_refresh)
        .await;
    assert_error(stale, 401).await;
    let next = app
        .refresh(
            "/oauth/refreshtoken",
            &rotated.access_token,
            rotated.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_eq!(next.status(), StatusCode::OK);
}

on_both_stores!(
    concurrent_refreshes_with_the_login_refresh_token_after_a_transparent_refresh_call_auth0_once
);
async fn concurrent_refreshes_with_the_login_refresh_token_after_a_transparent_refresh_call_auth0_once(
    store: Store,
) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens_expired().await;
    let userinfo = app.get_bearer("/userinfo", &tokens.access_token).await;
    assert_eq!(userinfo.status(), StatusCode::OK);
    assert_eq!(grants(&app, "refresh_token"), 1);
    let login_refresh = tokens.refresh_token.clone().unwrap();

    let calls =
        (0..6).map(|_| app.refresh("/oauth/refreshtoken", &tokens.access_token, &login_refresh));
    let responses = futures::future::join_all(calls).await;

    // Those that read the session before the rotation share its result; a later reader
    // finds the new refresh token (and no caller's one) and is refused.
    let rotated = one_rotated_session(responses).await;
    assert_ne!(rotated, tokens.access_token);
    assert_eq!(grants(&app, "refresh_token"), 2);
}

on_both_stores!(the_old_handle_stops_working_after_the_rotation_grace);
async fn the_old_handle_stops_working_after_the_rotation_grace(store: Store) {
    let grace = Duration::from_millis(500);
    let app = TestApp::spawn_with(Options {
        store,
        tuning: Box::new(move |tuning| tuning.rotation_grace = grace),
        ..Options::default()
    })
    .await;
    let tokens = app.login_tokens().await;
    let rotating = std::time::SystemTime::now();
    let response = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            tokens.refresh_token.as_deref().unwrap(),
        )
        .await;
    let rotated: Tokens = response.json().await.unwrap();

    // Waits for the event (the old handle answers 401), then checks its order: never
    // before the grace had passed.
    let ended = until("the old handle ends after the grace", || async {
        let status = app.userinfo_status(&tokens.access_token).await;
        if status != StatusCode::UNAUTHORIZED {
            assert_eq!(status, StatusCode::OK, "the old handle works until then");
        }
        status == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        whole_ms_between(rotating, ended) >= grace.as_millis(),
        "the old handle ended before the grace"
    );
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;
    assert_eq!(
        app.userinfo_status(&rotated.access_token).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_with_a_refresh_token_of_another_session_is_401() {
    let app = TestApp::spawn().await;
    let first = app.login_tokens().await;
    let second = app.login_tokens().await;
    let response = app
        .refresh(
            "/oauth/refreshtoken",
            &first.access_token,
            second.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_error(response, 401).await;
    assert_eq!(grants(&app, "refresh_token"), 0);
    let no_handle = app
        .http
        .post(app.url("/oauth/refreshtoken"))
        .json(&json!({"refresh_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(no_handle, 401).await;
}

/// The access token every successful one of concurrent `/oauth/refreshtoken` answers
/// carries (there must be exactly one); the others must be `401` for the refresh token.
async fn one_rotated_session(responses: Vec<reqwest::Response>) -> String {
    let mut handles = Vec::new();
    for response in responses {
        if response.status() == StatusCode::OK {
            handles.push(response.json::<Tokens>().await.unwrap().access_token);
        } else {
            let message = assert_error(response, 401).await;
            assert!(message.contains("refresh token"), "{message}");
        }
    }
    handles.dedup();
    assert_eq!(
        handles.len(),
        1,
        "every successful caller gets the one rotated session"
    );
    handles.remove(0)
}

on_both_stores!(concurrent_refreshes_of_one_session_call_auth0_once);
async fn concurrent_refreshes_of_one_session_call_auth0_once(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    let refresh_token = tokens.refresh_token.clone().unwrap();

    let calls =
        (0..6).map(|_| app.refresh("/oauth/refreshtoken", &tokens.access_token, &refresh_token));
    let responses = futures::future::join_all(calls).await;

    // A request that reads the session after the rotation sees the new refresh token
    // and cannot prove it held the previous one: it is refused, never refreshed again.
    let rotated = one_rotated_session(responses).await;
    assert_ne!(rotated, tokens.access_token);
    assert_eq!(grants(&app, "refresh_token"), 1);
}

#[tokio::test]
async fn a_website_refresh_sets_the_rotated_cookie() {
    let app = TestApp::spawn_with(Options {
        edit: Box::new(|file| {
            if let Some(website) = file.clients.get_mut(WEBSITE) {
                website.scopes.push("offline_access".to_owned());
            }
        }),
        ..Options::default()
    })
    .await;
    let login = app.password_login(WEBSITE).await;
    let handle = sid(login.headers());
    let session = app
        .sessions
        .get_session(&auth0_client::session::SessionHandle::new(handle.clone()))
        .await
        .unwrap()
        .unwrap();
    let refresh_token = session.refresh_token.unwrap();

    let response = app
        .http
        .post(app.url("/oauth/refreshtoken"))
        .header("cookie", format!("sid={handle}"))
        .json(&json!({"refresh_token": refresh_token.expose()}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let rotated = sid(response.headers());
    assert_ne!(rotated, handle);
    assert_eq!(
        set_cookies(response.headers()),
        vec![format!(
            "sid={rotated}; Path=/; HttpOnly; Secure; Max-Age={SESSION_SECONDS}; SameSite=Lax"
        )]
    );
}
