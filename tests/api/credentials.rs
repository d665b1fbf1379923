//! A new password ends what a thief holds (sessions, reset links); an e-mail change needs
//! the current password and warns the old address; forgotten-password requests have
//! quotas and answer alike, without waiting for the mail.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::test_config;
use crate::fixture::{Fixture, PASSWORD, Person, assert_problem, link_token};

const NEW: &str = "Nouvelle-Phrase-Solide-58";

/// A structure with an administrateur and a collaborateur, both signed in.
async fn start_with(f: Fixture) -> (Fixture, Person, Person) {
    let sid = f.structure("73282932000074", "Cabinet Clefs").await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let svc = f.service(&admin, "Trésorerie").await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Maël", "Membre")
        .await;
    (f, admin, member)
}

async fn start() -> (Fixture, Person, Person) {
    start_with(Fixture::start().await).await
}

/// `POST /password-resets {login}` from the fixture's client.
async fn ask_reset(f: &Fixture, login: &str) -> (u16, Value) {
    let body = json!({"login": login});
    f.call(None, "POST", "/password-resets", Some(body)).await
}

/// Asks for a reset link for `person` and returns it from the mail.
async fn reset_link(f: &Fixture, person: &Person) -> String {
    assert_eq!(ask_reset(f, &person.login).await.0, 202);
    link_token(&f.mail_to(&person.email).await, "/password-resets/")
}

async fn reset(f: &Fixture, token: &str, password: &str) -> (u16, Value) {
    let path = format!("/password-resets/{token}");
    let body = json!({"password": password});
    f.call(None, "POST", &path, Some(body)).await
}

async fn change(f: &Fixture, token: &str, current: &str, new: &str) -> (u16, Value) {
    let body = json!({"current": current, "new": new});
    f.call(Some(token), "POST", "/me/password", Some(body))
        .await
}

async fn me(f: &Fixture, token: &str) -> u16 {
    f.call(Some(token), "GET", "/me", None).await.0
}

async fn patch_me(f: &Fixture, token: &str, body: Value) -> (u16, Value) {
    f.call(Some(token), "PATCH", "/me", Some(body)).await
}

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_keeps_the_one_that_made_it() {
    let (f, _, member) = start().await;
    let thief = f.sign_in(&member.login, PASSWORD).await;
    assert_eq!(me(&f, &thief).await, 200);

    let (s, v) = change(&f, &member.token, PASSWORD, NEW).await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(
        me(&f, &member.token).await,
        200,
        "the session that changed it stays"
    );
    assert_problem(
        &f.call(Some(&thief), "GET", "/me", None).await,
        401,
        "unauthenticated",
    );
    assert_eq!(
        change(&f, &thief, PASSWORD, "Encore-Une-Phrase-Solide-9")
            .await
            .0,
        401,
        "the old session cannot even try the new password"
    );
    assert_eq!(f.try_sign_in(&member.login, PASSWORD).await.0, 401);
    let fresh = f.sign_in(&member.login, NEW).await;
    assert_eq!(me(&f, &fresh).await, 200);
}

#[tokio::test]
async fn a_reset_through_a_link_ends_every_session() {
    let (f, _, member) = start().await;
    let other = f.sign_in(&member.login, PASSWORD).await;
    let link = reset_link(&f, &member).await;
    let (s, v) = reset(&f, &link, NEW).await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(me(&f, &member.token).await, 401);
    assert_eq!(me(&f, &other).await, 401);
    assert_eq!(me(&f, &f.sign_in(&member.login, NEW).await).await, 200);
}

#[tokio::test]
async fn a_new_password_ends_the_reset_links_mailed_before() {
    let (f, _, member) = start().await;
    // Two links; the newer one is used: the older one no longer works.
    let older = reset_link(&f, &member).await;
    let newer = reset_link(&f, &member).await;
    assert_eq!(reset(&f, &newer, NEW).await.0, 204);
    let (events, _) = f.audit_chain().await;
    assert_problem(
        &reset(&f, &older, "Pas-Cette-Fois-Ci-Non-7").await,
        404,
        "link-invalid",
    );
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");

    // A link mailed before a change of password (here through the API) dies too.
    let pending = reset_link(&f, &member).await;
    let token = f.sign_in(&member.login, NEW).await;
    assert_eq!(
        change(&f, &token, NEW, "Troisieme-Phrase-Solide-4").await.0,
        204
    );
    assert_problem(&reset(&f, &pending, PASSWORD).await, 404, "link-invalid");
    assert_eq!(
        f.try_sign_in(&member.login, "Troisieme-Phrase-Solide-4")
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn an_email_change_needs_the_current_password_and_warns_the_old_address() {
    let (f, _, member) = start().await;
    let new = format!("mael.nouveau{}@example.fr", f.unique());
    let mails = f.outbox_settled().await;
    let (events, _) = f.audit_chain().await;

    let missing = patch_me(&f, &member.token, json!({"email": new})).await;
    assert_problem(&missing, 422, "current-password-required");
    assert_eq!(missing.1["field"], "current_password");
    let empty = json!({"email": new, "current_password": ""});
    assert_problem(
        &patch_me(&f, &member.token, empty).await,
        422,
        "current-password-required",
    );
    let wrong = json!({"email": new, "current_password": "Pas-Le-Bon-Du-Tout-1"});
    let wrong = patch_me(&f, &member.token, wrong).await;
    assert_problem(&wrong, 422, "wrong-current-password");
    assert_eq!(wrong.1["field"], "current_password");
    assert_eq!(f.outbox_settled().await, mails, "nothing mailed");
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
    // Names alone need no password.
    let names = json!({"given_name": "Maëlle"});
    assert_eq!(patch_me(&f, &member.token, names).await.0, 200);

    let body = json!({"email": new, "current_password": PASSWORD});
    let (s, v) = patch_me(&f, &member.token, body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["email_confirmation_sent"], true);
    assert_eq!(
        v["email"],
        member.email.as_str(),
        "the old address stays until confirmed"
    );
    let notice = f.mail_to(&member.email).await;
    assert!(notice.contains("Changement de votre adresse"), "{notice}");
    for secret in [
        "http://",
        "https://",
        "/email-confirmations/",
        "/password-resets/",
        new.as_str(),
    ] {
        assert!(
            !notice.contains(secret),
            "no {secret} in the notice:\n{notice}"
        );
    }
    let confirm = link_token(&f.mail_to(&new).await, "/email-confirmations/");
    let path = format!("/email-confirmations/{confirm}");
    let (s, v) = f.call(None, "POST", &path, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["email"], new.as_str());
}

#[tokio::test]
async fn a_confirmed_email_change_ends_the_links_sent_to_the_old_address() {
    let (f, _, member) = start().await;
    let to_old = reset_link(&f, &member).await;
    let [first, second] = [0, 1].map(|i| format!("mael.{i}.{}@example.fr", f.unique()));
    for email in [&first, &second] {
        let body = json!({"email": email, "current_password": PASSWORD});
        assert_eq!(patch_me(&f, &member.token, body).await.0, 200);
    }
    let first_link = link_token(&f.mail_to(&first).await, "/email-confirmations/");
    let second_link = link_token(&f.mail_to(&second).await, "/email-confirmations/");
    let (s, v) = f
        .call(
            None,
            "POST",
            &format!("/email-confirmations/{second_link}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (events, _) = f.audit_chain().await;
    assert_problem(&reset(&f, &to_old, NEW).await, 404, "link-invalid");
    let stale = format!("/email-confirmations/{first_link}");
    assert_problem(
        &f.call(None, "POST", &stale, None).await,
        404,
        "link-invalid",
    );
    assert_eq!(f.audit_chain().await, (events, true), "nothing written");
    assert_eq!(f.try_sign_in(&member.login, PASSWORD).await.0, 201);
    // A link mailed to the new address works.
    let fresh = link_token(
        &{
            assert_eq!(ask_reset(&f, &member.login).await.0, 202);
            f.mail_to(&second).await
        },
        "/password-resets/",
    );
    assert_eq!(reset(&f, &fresh, NEW).await.0, 204);
}

/// Waits until the mail queue is empty and the background work of the requests made so
/// far is done; returns the number of mails in the outbox.
async fn settled(f: &Fixture) -> usize {
    // Every answered reset request looked up (and its mail queued, if any) first.
    for _ in 0..500 {
        if f.directory().reset_requests_pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        f.directory().reset_requests_pending(),
        0,
        "reset requests still pending"
    );
    f.outbox_settled().await
}

#[tokio::test]
async fn reset_requests_past_a_logins_quota_answer_alike_and_send_no_mail() {
    let (f, _, member) = start().await;
    let before = settled(&f).await;
    let unknown = ask_reset(&f, "personne-inconnue").await;
    for n in 1..=3 {
        assert_eq!(ask_reset(&f, &member.login).await, unknown, "request {n}");
        f.mail_to(&member.email).await;
    }
    let beyond = ask_reset(&f, &member.login).await;
    assert_eq!(beyond, unknown, "the same answer past the quota");
    assert_eq!(settled(&f).await, before + 3, "no fourth mail");
    // The login regains one mail every 20 minutes.
    f.clock.advance(20 * 60);
    assert_eq!(ask_reset(&f, &member.login).await, unknown);
    f.mail_to(&member.email).await;
    assert_eq!(ask_reset(&f, &member.login).await, unknown);
    assert_eq!(settled(&f).await, before + 4);
}

#[tokio::test]
async fn reset_requests_past_an_addresss_quota_answer_alike_and_send_no_mail() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.trusted_proxies = vec!["127.0.0.1/32".into()];
    let (f, _, member) = start_with(Fixture::start_with(dir, config).await).await;
    let ask = async |xff: &str, login: &str| {
        f.http
            .post(f.url("/api/v1/password-resets"))
            .header("x-forwarded-for", xff)
            .json(&json!({"login": login}))
            .send()
            .await
            .unwrap()
            .status()
    };
    let before = settled(&f).await;
    for n in 0..20 {
        assert_eq!(
            ask("203.0.113.7", &format!("inconnu{n}")).await,
            202,
            "request {n}"
        );
    }
    // Past the quota, the same answer ("always 202"), and no mail for a real login.
    for login in ["inconnu-encore", member.login.as_str()] {
        assert_eq!(ask("203.0.113.7", login).await, 202, "{login}");
    }
    assert_eq!(
        settled(&f).await,
        before,
        "a held address had a link mailed"
    );
    // Another address is not held back, and the address may ask again later.
    assert_eq!(ask("198.51.100.4", &member.login).await, 202);
    f.mail_to(&member.email).await;
    f.clock.advance(30);
    assert_eq!(ask("203.0.113.7", &member.login).await, 202);
    assert_eq!(settled(&f).await, before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_request_is_answered_without_waiting_for_its_mail() {
    let (f, _, member) = start().await;
    settled(&f).await;
    // Hold the store's writer lock: a request that looked the identifier up and queued
    // its mail before answering would wait for it.
    let directory = std::sync::Arc::clone(f.directory());
    let (hold, release) = std::sync::mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _held = directory.hold_writes().unwrap();
        held.send(()).unwrap();
        let _ = release.recv_timeout(Duration::from_secs(20));
    });
    is_held.recv().unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(5), async {
        (
            ask_reset(&f, &member.login).await,
            ask_reset(&f, "personne-inconnue").await,
        )
    })
    .await;
    hold.send(()).unwrap();
    holder.join().unwrap();
    let (known, unknown) = answered.expect("answered while the mail could not be queued");
    assert_eq!(known, unknown);
    assert_eq!(known.0, 202);
    // Once the lock is free, the mail goes.
    f.mail_to(&member.email).await;
}

#[tokio::test]
async fn wrong_current_passwords_from_one_address_never_keep_the_owner_from_changing_his() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.trusted_proxies = vec!["127.0.0.1/32".into()];
    let (f, _, member) = start_with(Fixture::start_with(dir, config).await).await;
    let thief = f.sign_in(&member.login, PASSWORD).await;
    let change_from = async |xff: &str, token: &str, current: &str| {
        f.http
            .post(f.url("/api/v1/me/password"))
            .header("x-forwarded-for", xff)
            .bearer_auth(token)
            .json(&json!({"current": current, "new": NEW}))
            .send()
            .await
            .unwrap()
            .status()
    };
    // With a stolen session, a thief guesses the current password until he is held.
    let mut codes = Vec::new();
    for _ in 0..6 {
        codes.push(change_from("203.0.113.7", &thief, "pas-le-bon-mot-de-passe").await);
    }
    assert_eq!(codes.first().map(|c| c.as_u16()), Some(422), "{codes:?}");
    assert_eq!(codes.last().map(|c| c.as_u16()), Some(429), "{codes:?}");
    // The owner, from his own address, changes it at once; the thief's session ends.
    assert_eq!(
        change_from("198.51.100.4", &member.token, PASSWORD).await,
        204
    );
    assert_eq!(me(&f, &thief).await, 401);
}
