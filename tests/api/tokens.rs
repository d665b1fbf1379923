//! One-time links (invitation, password reset) and the sign-in backoff.

use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, Person, RawReply, link_token};

const LINK_INVALID: &str = "urn:apex-idp:problem:link-invalid";

/// A structure with an administrateur and a service.
async fn start() -> (Fixture, Person, String) {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Jetons").await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let svc = f.service(&admin, "Trésorerie").await;
    (f, admin, svc)
}

/// The invitation link mailed to an invited person.
async fn invitation_link(f: &Fixture, invited: &Person) -> String {
    link_token(&f.mail_to(&invited.email).await, "/invitations/")
}

/// Asks for a reset link for `person` and returns it from the mail.
async fn reset_link(f: &Fixture, person: &Person) -> String {
    let (s, _) = f
        .call(
            None,
            "POST",
            "/password-resets",
            Some(json!({"login": person.login})),
        )
        .await;
    assert_eq!(s, 202);
    link_token(&f.mail_to(&person.email).await, "/password-resets/")
}

async fn complete(f: &Fixture, token: &str, password: &str) -> (u16, Value) {
    f.call(
        None,
        "POST",
        &format!("/invitations/{token}"),
        Some(json!({"password": password})),
    )
    .await
}

async fn reset(f: &Fixture, token: &str, password: &str) -> (u16, Value) {
    f.call(
        None,
        "POST",
        &format!("/password-resets/{token}"),
        Some(json!({"password": password})),
    )
    .await
}

async fn sign_in(f: &Fixture, login: &str, password: &str) -> RawReply {
    let body = serde_json::to_vec(&json!({"login": login, "password": password})).unwrap();
    f.send_raw(
        None,
        "POST",
        "/api/v1/sessions",
        Some(("application/json", body)),
    )
    .await
}

#[track_caller]
fn assert_link_invalid(answer: &(u16, Value)) {
    assert_eq!(answer.0, 404, "{}", answer.1);
    assert_eq!(answer.1["type"], LINK_INVALID, "{}", answer.1);
}

/// The same token with one character changed.
fn tampered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    chars[20] = if chars[20] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

async fn state_of(f: &Fixture, viewer: &Person, id: &str) -> Value {
    f.account(viewer, id).await["state"].clone()
}

#[tokio::test]
async fn invitation_link_is_single_use() {
    let (f, admin, svc) = start().await;
    let invited = f
        .invite(&admin, "collaborateur", &svc, "Ugo", "Unique")
        .await;
    let token = invitation_link(&f, &invited).await;
    let (s, v) = complete(&f, &token, PASSWORD).await;
    assert_eq!(s, 200, "{v}");
    let (events, _) = f.audit_chain().await;

    assert_link_invalid(
        &f.call(None, "GET", &format!("/invitations/{token}"), None)
            .await,
    );
    assert_link_invalid(&complete(&f, &token, "Autre-Mot-De-Passe-77").await);
    assert_eq!(
        state_of(&f, &admin, &invited.id).await,
        "awaiting_validation"
    );
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
}

#[tokio::test]
async fn expired_invitation_link_is_refused() {
    let (f, admin, svc) = start().await;
    let early = f
        .invite(&admin, "collaborateur", &svc, "Eva", "Early")
        .await;
    let late = f.invite(&admin, "collaborateur", &svc, "Léo", "Late").await;
    let early_token = invitation_link(&f, &early).await;
    let late_token = invitation_link(&f, &late).await;

    // Six days on, the link (valid 7 days) still works.
    f.clock.advance(6 * 86_400);
    let (s, v) = f
        .call(None, "GET", &format!("/invitations/{early_token}"), None)
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = complete(&f, &early_token, PASSWORD).await;
    assert_eq!(s, 200, "{v}");

    // Eight days on, it no longer does.
    f.clock.advance(2 * 86_400);
    let (events, _) = f.audit_chain().await;
    assert_link_invalid(
        &f.call(None, "GET", &format!("/invitations/{late_token}"), None)
            .await,
    );
    assert_link_invalid(&complete(&f, &late_token, PASSWORD).await);
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
    let admin = Person {
        token: f.sign_in(&admin.login, PASSWORD).await,
        ..admin
    };
    assert_eq!(state_of(&f, &admin, &late.id).await, "invited");
    assert_eq!(state_of(&f, &admin, &early.id).await, "awaiting_validation");
}

#[tokio::test]
async fn tampered_token_is_refused_and_the_real_one_still_works() {
    let (f, admin, svc) = start().await;
    let invited = f
        .invite(&admin, "collaborateur", &svc, "Théo", "Triche")
        .await;
    let token = invitation_link(&f, &invited).await;
    let (events, _) = f.audit_chain().await;
    for bad in [
        tampered(&token),
        token[..42].to_owned(),
        format!("{token}A"),
        token.to_uppercase(),
        format!("{}%2F", &token[..40]),
    ] {
        assert_link_invalid(
            &f.call(None, "GET", &format!("/invitations/{bad}"), None)
                .await,
        );
        assert_link_invalid(&complete(&f, &bad, PASSWORD).await);
    }
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
    assert_eq!(state_of(&f, &admin, &invited.id).await, "invited");
    let (s, v) = complete(&f, &token, PASSWORD).await;
    assert_eq!(s, 200, "{v}");

    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Rita", "Reset")
        .await;
    let reset_token = reset_link(&f, &member).await;
    assert_link_invalid(&reset(&f, &tampered(&reset_token), "Nouveau-Secret-Solide-1").await);
    let (s, v) = reset(&f, &reset_token, "Nouveau-Secret-Solide-1").await;
    assert_eq!(s, 204, "{v}");
}

#[tokio::test]
async fn token_of_the_wrong_kind_is_refused() {
    let (f, admin, svc) = start().await;
    let invited = f.invite(&admin, "collaborateur", &svc, "Kim", "Kind").await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Wanda", "Wrong")
        .await;
    let invitation = invitation_link(&f, &invited).await;
    let reset_token = reset_link(&f, &member).await;
    let (events, _) = f.audit_chain().await;

    // An invitation token is no reset link, nor an e-mail confirmation.
    assert_link_invalid(&reset(&f, &invitation, "Mauvais-Guichet-Vingt-1").await);
    assert_link_invalid(
        &f.call(
            None,
            "POST",
            &format!("/email-confirmations/{invitation}"),
            None,
        )
        .await,
    );
    // A reset token is no invitation.
    assert_link_invalid(
        &f.call(None, "GET", &format!("/invitations/{reset_token}"), None)
            .await,
    );
    assert_link_invalid(&complete(&f, &reset_token, "Mauvais-Guichet-Vingt-2").await);
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
    let (s, _) = sign_in_status(&f, &member.login, PASSWORD).await;
    assert_eq!(s, 201, "the password did not change");

    // Both still work where they belong.
    let (s, v) = complete(&f, &invitation, PASSWORD).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = reset(&f, &reset_token, "Bon-Guichet-Enfin-33").await;
    assert_eq!(s, 204, "{v}");
}

async fn sign_in_status(f: &Fixture, login: &str, password: &str) -> (u16, Value) {
    let r = sign_in(f, login, password).await;
    (r.status, r.body)
}

#[tokio::test]
async fn reset_link_expires_after_reset_link_minutes() {
    let (f, admin, svc) = start().await;
    let minutes = apex_idp::config::PasswordConfig::default().reset_link_minutes;
    assert_eq!(minutes, 30);
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Paul", "Périmé")
        .await;

    let expired = reset_link(&f, &member).await;
    f.clock.advance(31 * 60);
    let (events, _) = f.audit_chain().await;
    assert_link_invalid(&reset(&f, &expired, "Trop-Tard-Pour-Changer-1").await);
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
    assert_eq!(sign_in_status(&f, &member.login, PASSWORD).await.0, 201);
    assert_eq!(
        sign_in_status(&f, &member.login, "Trop-Tard-Pour-Changer-1")
            .await
            .0,
        401
    );

    // Within its lifetime a link works.
    let fresh = reset_link(&f, &member).await;
    f.clock.advance(29 * 60);
    let (s, v) = reset(&f, &fresh, "Juste-A-Temps-Pour-Changer-2").await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(
        sign_in_status(&f, &member.login, "Juste-A-Temps-Pour-Changer-2")
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn reset_link_is_single_use() {
    let (f, admin, svc) = start().await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Simone", "Seule")
        .await;
    let token = reset_link(&f, &member).await;
    let (s, v) = reset(&f, &token, "Premier-Usage-Valable-1").await;
    assert_eq!(s, 204, "{v}");
    let (events, _) = f.audit_chain().await;
    assert_link_invalid(&reset(&f, &token, "Second-Usage-Refuse-22").await);
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
    assert_eq!(
        sign_in_status(&f, &member.login, "Premier-Usage-Valable-1")
            .await
            .0,
        201
    );
    assert_eq!(
        sign_in_status(&f, &member.login, "Second-Usage-Refuse-22")
            .await
            .0,
        401
    );
    assert_eq!(sign_in_status(&f, &member.login, PASSWORD).await.0, 401);
}

#[tokio::test]
async fn password_reset_for_unknown_login_sends_no_mail() {
    let (f, admin, svc) = start().await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Noé", "Nul")
        .await;
    let mails = f.outbox_settled().await;
    let (events, _) = f.audit_chain().await;

    let (s_unknown, v_unknown) = f
        .call(
            None,
            "POST",
            "/password-resets",
            Some(json!({"login": "personne"})),
        )
        .await;
    assert_eq!(s_unknown, 202, "{v_unknown}");
    // Nothing is queued for it.
    assert_eq!(f.directory().mail_queue_depth(), 0);
    // A known identifier gets the same answer and a mail; mails leave in queue order,
    // so once it is out, a mail queued for the unknown identifier would be out too.
    let (s_known, v_known) = f
        .call(
            None,
            "POST",
            "/password-resets",
            Some(json!({"login": member.login})),
        )
        .await;
    assert_eq!((s_known, &v_known), (s_unknown, &v_unknown));
    f.mail_to(&member.email).await;
    assert_eq!(
        f.outbox_settled().await,
        mails + 1,
        "one mail, to the holder"
    );
    assert_eq!(f.audit_chain().await, (events, true));
}

#[tokio::test]
async fn sign_in_backs_off_after_three_wrong_passwords() {
    let (f, admin, svc) = start().await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Bob", "Backoff")
        .await;
    for attempt in 1..=3 {
        let r = sign_in(&f, &member.login, "Mauvais-Mot-De-Passe-1").await;
        assert_eq!(r.status, 401, "attempt {attempt}: {r:?}");
    }
    // From the fourth attempt on, the identifier waits: even the right password.
    let r = sign_in(&f, &member.login, "Mauvais-Mot-De-Passe-1").await;
    assert_eq!(r.status, 429, "fourth attempt: {r:?}");
    assert_eq!(r.body["type"], "urn:apex-idp:problem:backoff");
    let r = sign_in(&f, &member.login, PASSWORD).await;
    assert_eq!(r.status, 429, "the right password waits too: {r:?}");
    let retry_after: i64 = r
        .header("retry-after")
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After in seconds: {r:?}"));
    assert!(retry_after >= 1, "{retry_after}");

    f.clock.advance(retry_after + 1);
    let r = sign_in(&f, &member.login, PASSWORD).await;
    assert_eq!(r.status, 201, "after the delay: {r:?}");
}

#[tokio::test]
async fn administrateur_can_lift_the_sign_in_delay() {
    let (f, admin, svc) = start().await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Lola", "Lock")
        .await;
    let resp = f
        .member(&admin, &admin, "responsable", &svc, "Rémy", "Resp")
        .await;
    let mut status = 0;
    for _ in 0..10 {
        status = sign_in(&f, &member.login, "Mauvais-Mot-De-Passe-1")
            .await
            .status;
        if status == 429 {
            break;
        }
    }
    assert_eq!(status, 429, "the identifier backs off");
    let unlock = format!("/accounts/{}/unlock", member.id);

    // Only an administrateur may lift it.
    let (s, v) = f.call(Some(&resp.token), "POST", &unlock, None).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(sign_in(&f, &member.login, PASSWORD).await.status, 429);

    let (s, v) = f.call(Some(&admin.token), "POST", &unlock, None).await;
    assert_eq!(s, 204, "{v}");
    let r = sign_in(&f, &member.login, PASSWORD).await;
    assert_eq!(r.status, 201, "lifted without waiting: {r:?}");
}

#[tokio::test]
async fn unknown_login_and_wrong_password_get_the_same_answer() {
    let (f, admin, svc) = start().await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Sam", "Same")
        .await;
    let gone = f
        .member(&admin, &admin, "collaborateur", &svc, "Gus", "Gone")
        .await;
    let (s, _) = f.request_deletion(&admin, &gone.id).await;
    assert_eq!(s, 200);

    let unknown = sign_in(&f, "inconnu", PASSWORD).await;
    let wrong = sign_in(&f, &member.login, "Mauvais-Mot-De-Passe-1").await;
    let blocked = sign_in(&f, &gone.login, PASSWORD).await;
    for r in [&unknown, &wrong, &blocked] {
        assert_eq!(r.status, 401, "{r:?}");
        assert_eq!(r.body, unknown.body);
        assert_eq!(r.header("content-type"), unknown.header("content-type"));
        assert_eq!(
            r.header("www-authenticate"),
            unknown.header("www-authenticate")
        );
    }
    assert_eq!(unknown.body["type"], "urn:apex-idp:problem:bad-credentials");
}
