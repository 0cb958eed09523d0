//! `auth0-client dev`: an embedded dev tenant, an in-memory session store and a
//! generated config (a cookie client and a token client), on loopback only.

use crate::app::Application;
use crate::config::Config;
use crate::config::env::{LogLevel, Settings};
use crate::config::file::{
    ClientConfig, ConfigFile, ConnectionRef, ManagementClientConfig, SameSite,
};
use crate::secret::Secret;
use auth0_devtenant::{DevTenant, TenantConfig};
use axum::Router;
use axum::extract::Path;
use axum::response::Html;
use axum::routing::get;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The seeded user's email.
pub const DEV_EMAIL: &str = "dev@example.com";
/// The seeded user's password.
pub const DEV_PASSWORD: &str = "DevPassword1!";
/// Client type of the cookie client.
pub const WEBSITE: &str = "website";
/// Client type of the token client.
pub const TOKEN: &str = "token";
/// The default connection of the dev tenant.
const UPA: &str = "Username-Password-Authentication";

/// Runs dev mode on `127.0.0.1:port` (0: any free port), or on `listen` with a warning,
/// until Ctrl-C.
pub async fn run(port: u16, listen: Option<IpAddr>) -> anyhow::Result<()> {
    crate::telemetry::init_logging(LogLevel::Info);
    let port = if port == 0 { free_port()? } else { port };
    let ip = listen.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    if let Some(warning) = exposure_warning(ip) {
        eprintln!("{warning}");
    }
    let tenant = DevTenant::start_on(TenantConfig::default(), 0).await?;
    let address = format!("http://127.0.0.1:{port}");
    let config = config(&tenant.url(), &address, port);
    // The dev tenant's Auth0 sessions end here too (back-channel logout).
    for client in config.file.clients.values() {
        tenant.set_backchannel_logout_urls(
            &client.client_id,
            vec![format!("{address}/backchannel-logout")],
        );
    }
    let store = Arc::new(crate::session::MemoryStore::new());
    let app = Application::build_on(config, store, ip)
        .await?
        .with_routes(callback_routes());
    println!("{}", banner(&address, &tenant.url()));
    app.run_until_stopped().await?;
    drop(tenant);
    Ok(())
}

/// The warning printed when dev mode listens beyond loopback (`--listen`).
fn exposure_warning(ip: IpAddr) -> Option<String> {
    (!ip.is_loopback()).then(|| {
        format!(
            "WARNING: dev mode is listening on {ip} (--listen), not loopback only: anyone who can reach this port can log in as the seeded user and call the user-management routes. Never do this on an untrusted network."
        )
    })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The generated configuration: a `website` cookie client (the default) and a `token`
/// client with `offline_access`, both on the dev tenant at `tenant`.
pub fn config(tenant: &str, address: &str, port: u16) -> Config {
    let client = |id: &str, secret: &str, kind: &str, scopes: &[&str]| ClientConfig {
        auth0_url: tenant.to_owned(),
        client_id: id.to_owned(),
        client_secret: Secret::new(secret),
        redirect_url: format!("{address}/dev/callback/{kind}"),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        audience: None,
        supported_signing_algs: Vec::new(),
        supported_connections: vec![UPA.to_owned(), "Other-Database".to_owned()],
        default_connection: Some(UPA.to_owned()),
        same_site: None,
        authorize_state_required: false,
        token_endpoint_auth_method: None,
        allowed_origins: Vec::new(),
    };
    let mut website = client(
        "dev-website-client",
        "dev-website-secret",
        WEBSITE,
        &["website", "openid", "profile", "email"],
    );
    website.same_site = Some(SameSite::Lax);
    let token = client(
        "dev-token-client",
        "dev-token-secret",
        TOKEN,
        &["openid", "profile", "email", "offline_access"],
    );
    let connections = BTreeMap::from([
        (
            UPA.to_owned(),
            ConnectionRef {
                connection_id: "con_UPA0000000000001".to_owned(),
            },
        ),
        (
            "Other-Database".to_owned(),
            ConnectionRef {
                connection_id: "con_OTH0000000000002".to_owned(),
            },
        ),
    ]);
    let file = ConfigFile {
        clients: BTreeMap::from([(WEBSITE.to_owned(), website), (TOKEN.to_owned(), token)]),
        default_client: Some(WEBSITE.to_owned()),
        custom_claims_namespaces: vec![
            "https://auth0-client.dev/app_metadata".to_owned(),
            "https://auth0-client.dev/user_metadata".to_owned(),
        ],
        management_client: ManagementClientConfig {
            auth0_url: tenant.to_owned(),
            client_id: "dev-management-client".to_owned(),
            client_secret: Secret::new("dev-management-secret"),
            default_management_connection_name: Some(UPA.to_owned()),
            supported_connections_map: Some(connections),
            supported_connections: None,
            default_create_user_connection: None,
        },
        auth0_tenant_url: Some(tenant.to_owned()),
    };
    let settings = Settings {
        http_port: port,
        log_level: LogLevel::Info,
        service_prefix: String::new(),
        service_version: env!("CARGO_PKG_VERSION").to_owned(),
        config_file: PathBuf::from("(generated by dev mode)"),
        original_protocol_header: "x-forwarded-proto".to_owned(),
        session_duration: Duration::from_secs(86_400),
        session_scope: "dev".to_owned(),
        session_idle: None,
        redis: None,
        delay_shutdown: Duration::ZERO,
        session_encryption_keys: Vec::new(),
        mongo: None,
        server: crate::config::server::ServerSettings::default(),
        trusted_proxy_hops: 1,
        authorize_rate_limit: 120,
        session_cache_size: 0,
    };
    Config { settings, file }
}

fn banner(app: &str, tenant: &str) -> String {
    format!(
        r#"
auth0-client dev mode (loopback only, sessions in memory)
  auth0-client   {app}
  dev tenant     {tenant}
  docs           {app}/documentation
  user           {DEV_EMAIL} / {DEV_PASSWORD}
  client types   website (default: session in the `sid` cookie), token (tokens in the body, offline_access)

Log in with a browser: open {app}/authorize (the default `website` client), sign in as the user;
the callback page {app}/dev/callback/website posts code+state to /oauth/token and shows /userinfo.
Logging out at the tenant ({tenant}/v2/logout) ends those sessions (back-channel logout).

Or with curl:
  curl -s -X POST {app}/oauth/token -H 'client-type: token' -H 'content-type: application/json' \
    -d '{{"grant_type":"password","username":"{DEV_EMAIL}","password":"{DEV_PASSWORD}"}}'
  curl -s {app}/userinfo -H "Authorization: Bearer $ACCESS_TOKEN"
  curl -s -X POST {app}/oauth/refreshtoken -H "Authorization: Bearer $ACCESS_TOKEN" \
    -H 'content-type: application/json' -d "{{\"refresh_token\":\"$REFRESH_TOKEN\"}}"
  curl -s -i {app}/logout -H "Authorization: Bearer $ACCESS_TOKEN"
"#
    )
}

/// Dev-only page: the callback that completes the code exchange in the browser.
fn callback_routes() -> Router {
    Router::new().route("/dev/callback/{client}", get(callback))
}

fn known(client: &str) -> Option<&'static str> {
    [WEBSITE, TOKEN].into_iter().find(|known| *known == client)
}

async fn callback(Path(client): Path<String>) -> Html<String> {
    let client = known(&client).unwrap_or(WEBSITE);
    Html(format!(
        r#"<!doctype html><meta charset="utf-8"><title>auth0-client dev callback</title>
<style>body{{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto}}pre{{background:#f4f4f4;padding:1rem;white-space:pre-wrap;word-break:break-all}}</style>
<h1>Logged in through auth0-client ({client})</h1><p id="step">Exchanging the code…</p><pre id="out"></pre>
<script>
(async () => {{
  const q = new URLSearchParams(location.search), out = document.getElementById('out'), step = document.getElementById('step');
  const token = await fetch('/oauth/token', {{method: 'POST', credentials: 'same-origin',
    headers: {{'client-type': '{client}', 'content-type': 'application/json'}},
    body: JSON.stringify({{code: q.get('code'), state: q.get('state')}})}});
  const text = await token.text();
  if (!token.ok) {{ step.textContent = 'POST /oauth/token answered ' + token.status; out.textContent = text; return; }}
  const tokens = text ? JSON.parse(text) : null;
  const headers = tokens ? {{authorization: 'Bearer ' + tokens.accessToken}} : {{}};
  const user = await fetch('/userinfo', {{headers, credentials: 'same-origin'}});
  step.textContent = tokens ? 'Tokens in the body; GET /userinfo with the bearer:' : 'Session in the sid cookie; GET /userinfo:';
  if (!tokens && user.status === 401) {{ step.textContent = 'The code exchange succeeded, but this browser did not keep the Secure sid cookie on plain http: use the curl lines of the dev banner.'; }}
  out.textContent = (tokens ? JSON.stringify(tokens, null, 2) + '\n\n' : '') + JSON.stringify(await user.json(), null, 2);
}})();
</script>"#
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn generated_config_passes_the_schema_and_the_startup_checks() {
        let config = config("http://127.0.0.1:4000", "http://127.0.0.1:8080", 8080);
        let text = serde_json::to_string(&config.file).unwrap();
        let file = crate::config::validate::parse(&text).unwrap();
        assert_eq!(file.default_client.as_deref(), Some(WEBSITE));
        assert!(file.clients[WEBSITE].scopes.contains(&"website".to_owned()));
        assert!(
            file.clients[TOKEN]
                .scopes
                .contains(&"offline_access".to_owned())
        );
        assert_eq!(
            file.clients[WEBSITE].redirect_url,
            "http://127.0.0.1:8080/dev/callback/website"
        );
    }

    #[test]
    fn listening_beyond_loopback_warns_and_loopback_does_not() {
        assert_eq!(exposure_warning(IpAddr::V4(Ipv4Addr::LOCALHOST)), None);
        assert_eq!(exposure_warning("::1".parse().unwrap()), None);
        let warning = exposure_warning("0.0.0.0".parse().unwrap()).unwrap();
        assert!(warning.starts_with("WARNING: "), "{warning}");
        assert!(warning.contains("0.0.0.0"), "{warning}");
    }

    #[test]
    fn banner_names_the_user_and_both_client_types() {
        let text = banner("http://127.0.0.1:8080", "http://127.0.0.1:4000");
        for expected in [
            DEV_EMAIL,
            DEV_PASSWORD,
            "website",
            "token",
            "/oauth/token",
            "/authorize",
        ] {
            assert!(text.contains(expected), "{expected}");
        }
    }
}
