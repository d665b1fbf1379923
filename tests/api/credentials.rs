//! A new password ends what a thief holds: sessions and reset links.

use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, Person, assert_problem, link_token};

const NEW: &str = "Nouvelle-Phrase-Solide-58";

/// A structure with an administrateur and a collaborateur, both signed in.
async fn start() -> (Fixture, Person, Person) {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Clefs").await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let svc = f.service(&admin, "Trésorerie").await;
    let member = f
        .member(&admin, &admin, "collaborateur", &svc, "Maël", "Membre")
        .await;
    (f, admin, member)
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
