//! Client authentication: counted per (client, source), so wrong secrets from one
//! address never keep the client out from another; and the registered method only.

use std::net::IpAddr;

use crate::fixture::{DEMO, Op};

/// An introspection by DEMO from `127.0.0.<last>`, with Basic or form credentials.
async fn introspect_from(op: &Op, last: u8, secret: &str, basic: bool) -> (u16, String) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .local_address(IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap();
    let mut form = vec![("token", "not-a-token")];
    let mut req = client.post(op.url("/oidc/introspect"));
    if basic {
        req = req.basic_auth(DEMO.client_id, Some(secret));
    } else {
        form.push(("client_id", DEMO.client_id));
        form.push(("client_secret", secret));
    }
    let r = req.form(&form).send().await.unwrap();
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, retry)
}

#[tokio::test]
async fn wrong_client_secrets_from_one_address_never_keep_the_client_out_of_another() {
    let op = Op::start().await;
    let mut delayed = false;
    for _ in 0..10 {
        let (status, retry) = introspect_from(&op, 2, "not-the-secret", true).await;
        if status == 429 {
            assert!(retry.parse::<i64>().unwrap() > 0, "Retry-After is given");
            delayed = true;
            break;
        }
        assert_eq!(status, 401);
    }
    assert!(delayed, "the guessing source backs off");
    let secret = DEMO.secret.unwrap();
    assert_eq!(introspect_from(&op, 2, secret, true).await.0, 429);
    assert_eq!(introspect_from(&op, 3, secret, true).await.0, 200);
}

#[tokio::test]
async fn a_client_uses_the_authentication_method_it_registered() {
    let op = Op::start_with(
        |c| {
            let demo = c
                .applications
                .iter_mut()
                .find_map(|a| a.oidc.as_mut().filter(|o| o.client_id == DEMO.client_id))
                .unwrap();
            demo.token_endpoint_auth_method = Some("client_secret_basic".into());
        },
        |_| {},
    )
    .await;
    let secret = DEMO.secret.unwrap();
    assert_eq!(introspect_from(&op, 2, secret, true).await.0, 200);
    assert_eq!(introspect_from(&op, 2, secret, false).await.0, 401);
    // Without a registered method, either secret method is accepted (ES256's client).
    let (status, _) = op
        .client_call(crate::fixture::ES256, "/oidc/introspect", &[("token", "x")])
        .await;
    assert_eq!(status, 200);
}

/// A client whose secret is rotated holds two hashes: both secrets work while the
/// application switches, a third does not; one hash again, the old secret stops.
#[tokio::test]
async fn a_client_secret_in_rotation_has_two_hashes_and_either_works() {
    use apex_idp::catalogue::SecretHash;
    let hasher = apex_idp::auth::Hasher::new(crate::common::CHEAP).unwrap();
    let new = hasher
        .hash_blocking("the-new-demo-secret-0123456789")
        .unwrap();
    let old = hasher.hash_blocking("demo-client-secret").unwrap();
    let rotating = SecretHash::Rotating(vec![new.clone(), old]);
    let set = move |c: &mut apex_idp::catalogue::Catalogue, h: SecretHash| {
        for app in &mut c.applications {
            if let Some(o) = app.oidc.as_mut().filter(|o| o.client_id == "demo") {
                o.client_secret_hash = Some(h.clone());
            }
        }
    };
    let op = Op::start_with_catalogue({
        let rotating = rotating.clone();
        move |c| set(c, rotating)
    })
    .await;
    assert_eq!(
        grant(&op, "demo-client-secret").await,
        200,
        "the old secret"
    );
    assert_eq!(
        grant(&op, "the-new-demo-secret-0123456789").await,
        200,
        "the new one"
    );
    assert_eq!(grant(&op, "another-secret-0123456789").await, 401);
    let after = Op::start_with_catalogue(move |c| set(c, SecretHash::One(new))).await;
    assert_eq!(grant(&after, "the-new-demo-secret-0123456789").await, 200);
    assert_eq!(
        grant(&after, "demo-client-secret").await,
        401,
        "the old one is gone"
    );
}

/// A client_credentials grant of DEMO with `secret`: its status.
async fn grant(op: &Op, secret: &'static str) -> u16 {
    let rp = crate::fixture::Rp {
        secret: Some(secret),
        ..DEMO
    };
    op.token(rp, &[("grant_type", "client_credentials")])
        .await
        .0
}
