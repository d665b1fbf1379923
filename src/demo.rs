//! The demo directory: two structures, services, accounts of every role and state,
//! habilitations and delegations. The one place where passwords are set for people:
//! it completes their invitations through the ordinary path, with a published password.

use crate::config::Config;
use crate::directory::{DirError, Directory, NameCorrection, actor_of};
use crate::domain::{Account, AccountState, Actor, PersonalData, ProfileId, Role};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "Demo-Apex-2026!";
/// The secret of the demo OIDC client (its hash is in config/catalogue.toml).
pub use crate::catalogue::DEMO_CLIENT_SECRET;

/// A demo sign-in to print.
#[derive(Debug, Clone)]
pub struct DemoSignIn {
    /// Identifier (or the e-mail for accounts without one yet).
    pub login: String,
    /// Role.
    pub role: Role,
    /// State.
    pub state: AccountState,
    /// Structure name.
    pub structure: String,
}

fn person(given: &str, family: &str, email: &str) -> PersonalData {
    PersonalData {
        given_name: given.into(),
        family_name: family.into(),
        email: email.into(),
    }
}

/// The one-time link secret of the last mail queued for an address.
fn queued_secret(dir: &Directory, email: &str, marker: &str) -> Result<String, DirError> {
    dir.queued_mails()?
        .iter()
        .rev()
        .filter(|q| q.mail.to.contains(email))
        .find_map(|q| {
            let start = q.mail.text.find(marker)? + marker.len();
            q.mail.text.get(start..start + 43).map(str::to_owned)
        })
        .ok_or(DirError::NotFound {
            what: "demo invitation mail",
        })
}

async fn complete(dir: &Directory, email: &str) -> Result<Account, DirError> {
    let secret = queued_secret(dir, email, "/invitations/")?;
    dir.complete_invitation(&secret, DEMO_PASSWORD, &NameCorrection::default())
        .await
}

async fn member(
    dir: &Directory,
    admin: &Actor,
    role: Role,
    service: &str,
    p: PersonalData,
    until: AccountState,
) -> Result<Account, DirError> {
    let email = p.email.clone();
    let invited = dir.pre_create(admin, role, service, &p).await?;
    if until == AccountState::Invited {
        return Ok(invited);
    }
    let done = complete(dir, &email).await?;
    if until == AccountState::AwaitingValidation {
        return Ok(done);
    }
    dir.validate(admin, &done.id).await
}

/// Creates the demo directory when the store is empty; returns the sign-ins.
pub async fn seed(dir: &Directory) -> Result<Vec<DemoSignIn>, DirError> {
    if dir.structures()?.is_empty() {
        seed_empty(dir).await?;
    }
    let mut out = Vec::new();
    for s in dir.structures()? {
        for a in dir.accounts_of(&s.id)? {
            out.push(DemoSignIn {
                login: a.login.clone().unwrap_or_else(|| a.person.email.clone()),
                role: a.role,
                state: a.state,
                structure: s.name.clone(),
            });
        }
    }
    Ok(out)
}

async fn seed_empty(dir: &Directory) -> Result<(), DirError> {
    let active = AccountState::Active;
    let ficoba: ProfileId = "FICOBA:CONSULTATION"
        .parse()
        .map_err(|m| DirError::invalid("demo", "profile", m))?;
    let demo_user: ProfileId = "DEMO:UTILISATEUR"
        .parse()
        .map_err(|m| DirError::invalid("demo", "profile", m))?;

    let a = dir
        .create_structure("73282932000074", "CSP", "Cabinet Martin & Associés")
        .await?;
    dir.invite_administrateur(
        &a.id,
        &person("Alice", "Martin", "alice.martin@cabinet-martin.example"),
    )
    .await?;
    let alice = actor_of(&complete(dir, "alice.martin@cabinet-martin.example").await?);
    let compta = dir.create_service(&alice, "Comptabilité").await?;
    let paie = dir.create_service(&alice, "Paie").await?;
    let bruno = member(
        dir,
        &alice,
        Role::Responsable,
        &compta.id,
        person("Bruno", "Petit", "bruno.petit@cabinet-martin.example"),
        active,
    )
    .await?;
    let chloe = member(
        dir,
        &alice,
        Role::Collaborateur,
        &compta.id,
        person("Chloé", "Durand", "chloe.durand@cabinet-martin.example"),
        active,
    )
    .await?;
    member(
        dir,
        &alice,
        Role::Collaborateur,
        &paie.id,
        person("David", "Leroy", "david.leroy@cabinet-martin.example"),
        AccountState::AwaitingValidation,
    )
    .await?;
    member(
        dir,
        &alice,
        Role::Collaborateur,
        &paie.id,
        person("Emma", "Moreau", "emma.moreau@cabinet-martin.example"),
        AccountState::Invited,
    )
    .await?;
    let felix = member(
        dir,
        &alice,
        Role::Collaborateur,
        &paie.id,
        person("Félix", "Roux", "felix.roux@cabinet-martin.example"),
        active,
    )
    .await?;
    dir.grant(&alice, &alice.account_id, &demo_user).await?;
    dir.delegate(&alice, &bruno.id, &ficoba).await?;
    dir.delegate(&alice, &bruno.id, &demo_user).await?;
    dir.grant(&alice, &bruno.id, &ficoba).await?;
    let bruno_actor = actor_of(&dir.account(&bruno.id)?);
    dir.grant(&bruno_actor, &chloe.id, &ficoba).await?;
    dir.grant(&bruno_actor, &chloe.id, &demo_user).await?;
    dir.request_deletion(&alice, &felix.id).await?;

    let b = dir
        .create_structure(
            "35600000049837",
            "CSP",
            "Centre de services partagés du Nord",
        )
        .await?;
    dir.invite_administrateur(
        &b.id,
        &person("Gaëlle", "Bernard", "gaelle.bernard@csp-nord.example"),
    )
    .await?;
    let gaelle = actor_of(&complete(dir, "gaelle.bernard@csp-nord.example").await?);
    let unique = dir
        .create_service(&gaelle, "Service des impôts des entreprises")
        .await?;
    let hugo = member(
        dir,
        &gaelle,
        Role::Collaborateur,
        &unique.id,
        person("Hugo", "Lambert", "hugo.lambert@csp-nord.example"),
        active,
    )
    .await?;
    dir.grant(&gaelle, &hugo.id, &demo_user).await?;
    Ok(())
}

/// Prints the URLs and the sign-ins of the demo.
pub fn print(config: &Config, server: &crate::server::Server, signins: &[DemoSignIn]) {
    let base = config.server.public_url.trim_end_matches('/');
    let http = server.http_addr;
    println!();
    println!("apex-idp demo — Mon espace APEX Partenaires");
    println!("  web space     {base}/  (listening on {http})");
    println!("  OIDC issuer   {base}/.well-known/openid-configuration");
    println!("  demo client   client_id demo, secret {DEMO_CLIENT_SECRET}");
    if let Some(ldap) = server.ldap_addr {
        println!(
            "  LDAP          ldap://{ldap}  base {}",
            config.ldap.base_dn
        );
    }
    println!("  JSON API      {base}/api/v1  (OpenAPI: {base}/api/openapi.json)");
    println!("  mail outbox   {}", config.mail.outbox_dir.display());
    println!();
    println!("  sign-ins (password {DEMO_PASSWORD} for every account that has one):");
    let mut sorted: Vec<&DemoSignIn> = signins.iter().collect();
    sorted.sort_by(|a, b| (&a.structure, a.role, &a.login).cmp(&(&b.structure, b.role, &b.login)));
    for s in sorted {
        println!(
            "    {:<38} {:<15} {:<20} {}",
            s.login,
            s.role.as_str(),
            s.state.as_str(),
            s.structure
        );
    }
    println!();
    println!(
        "  try: curl -s -X POST {base}/api/v1/sessions -H 'content-type: application/json' \\"
    );
    println!("         -d '{{\"login\":\"amartin\",\"password\":\"{DEMO_PASSWORD}\"}}'");
}
