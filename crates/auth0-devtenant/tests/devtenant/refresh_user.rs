//! The `set_refresh_user` knob: refresh grants issued for another user (a provider that
//! switches users on refresh, for the client's OIDC Core §12.2 check).

use crate::support::*;

#[tokio::test]
async fn with_a_refresh_user_set_refresh_grants_issue_tokens_for_that_user_until_cleared() {
    let t = tenant().await;
    let (_, first) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    let refresh = |token: String| {
        let t = &t;
        async move {
            token_form(
                t,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", "dev-token-client"),
                    ("client_secret", "dev-token-secret"),
                    ("refresh_token", &token),
                ],
            )
            .await
        }
    };
    t.faults()
        .set_refresh_user(Some("auth0|dev000000000000000000002"));

    let (status, switched) = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;

    assert_eq!(status, 200, "{switched}");
    let id_token = claims(switched["id_token"].as_str().unwrap());
    assert_eq!(id_token["sub"], "auth0|dev000000000000000000002");
    t.faults().clear();
    let (_, again) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    let (status, normal) = refresh(again["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 200, "{normal}");
    assert_eq!(
        claims(normal["id_token"].as_str().unwrap())["sub"],
        "auth0|dev000000000000000000001",
        "cleared, refresh grants are for the refresh token's user again"
    );
    t.shutdown().await;
}
