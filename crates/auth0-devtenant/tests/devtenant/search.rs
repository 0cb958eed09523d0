use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

async fn search(
    t: &auth0_devtenant::DevTenant,
    token: &str,
    params: &[(&str, &str)],
) -> (u16, Value) {
    let response = http()
        .get(format!("{}/api/v2/users", t.url()))
        .bearer_auth(token)
        .query(params)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn ids(users: &Value) -> Vec<String> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn seed(t: &auth0_devtenant::DevTenant, token: &str, count: usize) {
    for i in 0..count {
        let user = json!({
            "connection": "Other-Database",
            "email": format!("user{i:03}@corp.example"),
            "password": "Password1!",
            "app_metadata": {"groups": [if i % 2 == 0 { "even" } else { "odd" }]},
        });
        assert_eq!(
            management(t, token, Method::POST, "/api/v2/users", Some(user))
                .await
                .0,
            201
        );
    }
}

#[tokio::test]
async fn lucene_queries_select_users_by_fields_metadata_and_connection() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let q = |q: &'static str| [("q", q), ("search_engine", "v3")];
    let (status, users) = search(&t, &token, &q("app_metadata.groups:\"admin\"")).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&users), ["dev@example.com"]);
    let (_, users) = search(
        &t,
        &token,
        &q("email:*@example.com AND NOT app_metadata.groups:admin"),
    )
    .await;
    assert_eq!(ids(&users), ["viewer@example.com"]);
    let (_, users) = search(&t, &token, &q("(email:\"DEV@example.com\" OR nickname:viewer) AND identities.connection:\"Username-Password-Authentication\"")).await;
    assert_eq!(ids(&users), ["dev@example.com", "viewer@example.com"]);
    let (_, users) = search(&t, &token, &q("identities.connection:\"Other-Database\"")).await;
    assert_eq!(ids(&users), Vec::<String>::new());
    let (_, users) = search(
        &t,
        &token,
        &q(r#"user_id:"auth0|dev000000000000000000002""#),
    )
    .await;
    assert_eq!(ids(&users), ["viewer@example.com"]);
    let (_, users) = search(&t, &token, &q("email:\"dev*\"")).await;
    assert_eq!(
        ids(&users),
        Vec::<String>::new(),
        "a quoted star is literal"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn invalid_queries_are_400() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (status, body) = search(&t, &token, &[("q", "(email:a"), ("search_engine", "v3")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["statusCode"], 400);
    assert_eq!(body["errorCode"], "invalid_query_string");
    t.shutdown().await;
}

#[tokio::test]
async fn pages_totals_and_the_per_page_limit() {
    let t = tenant().await;
    let token = management_token(&t).await;
    seed(&t, &token, 7).await;
    let base = [
        ("q", "identities.connection:\"Other-Database\""),
        ("search_engine", "v3"),
    ];
    let mut params = base.to_vec();
    params.extend([("per_page", "3"), ("page", "2"), ("include_totals", "true")]);
    let (status, body) = search(&t, &token, &params).await;
    assert_eq!(status, 200);
    assert_eq!(body["start"], 6);
    assert_eq!(body["limit"], 3);
    assert_eq!(body["length"], 1);
    assert_eq!(body["total"], 7);
    assert_eq!(ids(&body["users"]), ["user006@corp.example"]);

    let mut params = base.to_vec();
    params.extend([("per_page", "2"), ("page", "1")]);
    let (_, body) = search(&t, &token, &params).await;
    assert_eq!(ids(&body), ["user002@corp.example", "user003@corp.example"]);

    let (_, body) = search(
        &t,
        &token,
        &[
            ("q", "app_metadata.groups:odd"),
            ("sort", "email:-1"),
            ("per_page", "2"),
        ],
    )
    .await;
    assert_eq!(ids(&body), ["user005@corp.example", "user003@corp.example"]);

    let (status, body) = search(&t, &token, &[("per_page", "101")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "invalid_query_string");
    t.shutdown().await;
}

#[tokio::test]
async fn paging_past_the_first_1000_results_is_400() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (status, _) = search(&t, &token, &[("per_page", "100"), ("page", "9")]).await;
    assert_eq!(status, 200);
    let (status, body) = search(&t, &token, &[("per_page", "100"), ("page", "10")]).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("first 1000"));
    let (status, _) = search(&t, &token, &[("per_page", "50"), ("page", "20")]).await;
    assert_eq!(status, 400);
    t.shutdown().await;
}

#[tokio::test]
async fn fields_projection_keeps_only_the_requested_fields() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (_, body) = search(
        &t,
        &token,
        &[
            ("q", "nickname:dev"),
            ("fields", "user_id,email"),
            ("include_fields", "true"),
        ],
    )
    .await;
    assert_eq!(
        body,
        json!([{"user_id": "auth0|dev000000000000000000001", "email": "dev@example.com"}])
    );
    t.shutdown().await;
}
