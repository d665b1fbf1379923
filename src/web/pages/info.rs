//! The pages every site of the State owes its users: accessibility statement, site map.

use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::visit::{Visitor, menu};

/// `GET /accessibilite`
pub async fn accessibility(visitor: Visitor) -> Response {
    visitor.page(
        StatusCode::OK,
        "Déclaration d'accessibilité",
        false,
        html! {
            p { "Mon espace APEX Partenaires s'engage à rendre son service accessible, conformément à l'article 47 de la loi n° 2005-102 du 11 février 2005." }
            h2 { "État de conformité" }
            p { "Mon espace APEX Partenaires est " strong { "partiellement conforme" } " avec le référentiel général d'amélioration de l'accessibilité (RGAA), version 4.1 : l'audit complet n'a pas encore été réalisé. Les pages sont testées automatiquement (axe-core, critères WCAG 2.1 AA) et fonctionnent sans JavaScript et au clavier." }
            h2 { "Retour d'information et contact" }
            p { "Si vous n'arrivez pas à accéder à un contenu ou à un service, contactez un administrateur de votre structure ou l'assistance de la DGFiP pour être orienté vers une alternative accessible." }
            h2 { "Voies de recours" }
            p { "Si vous constatez un défaut d'accessibilité qui vous empêche d'accéder à un contenu ou à une fonctionnalité, que vous nous le signalez et que vous ne parvenez pas à obtenir une réponse de notre part, vous pouvez saisir le Défenseur des droits." }
        },
    )
}

/// `GET /plan-du-site`
pub async fn site_map(visitor: Visitor) -> Response {
    visitor.page(
        StatusCode::OK,
        "Plan du site",
        false,
        html! {
            ul {
                li { a href="/" { "Connexion" } }
                li { a href="/password-resets" { "Mot de passe oublié" } }
                li { a href=(menu::APPLICATIONS) { "Mes applications" } }
                li {
                    a href=(menu::ME) { "Mes données personnelles" }
                    ul { li { a href=(super::visit::RENEWAL) { "Changer mon mot de passe" } } }
                }
                li { a href=(menu::STRUCTURE) { "Ma structure" } " (les fonctions d'administration de votre rôle y sont proposées)" }
                li { a href="/accessibilite" { "Déclaration d'accessibilité" } }
            }
        },
    )
}
