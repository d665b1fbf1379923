//! The secondary index entries of each entity, derived from its value alone.

use super::{T, key};
use crate::domain::{Account, Service, Structure};

/// Index entries of a structure.
pub fn structure_keys(s: &Structure) -> Vec<(T, Vec<u8>, Vec<u8>)> {
    vec![(
        T::StructureBySiret,
        s.siret.as_str().as_bytes().to_vec(),
        s.id.as_bytes().to_vec(),
    )]
}

/// Index entries of a service.
pub fn service_keys(s: &Service) -> Vec<(T, Vec<u8>, Vec<u8>)> {
    vec![(
        T::ServicesByStructure,
        key(&[&s.structure_id, &s.id]),
        Vec::new(),
    )]
}

/// Index entries of an account (the never-reused login set is kept apart).
pub fn account_keys(a: &Account) -> Vec<(T, Vec<u8>, Vec<u8>)> {
    let mut out = vec![
        (
            T::AccountsByStructure,
            key(&[&a.structure_id, &a.id]),
            Vec::new(),
        ),
        (
            T::AccountsByEmail,
            key(&[&a.person.email.to_lowercase(), &a.id]),
            Vec::new(),
        ),
        (
            T::AccountsByState,
            key(&[a.state.as_str(), &a.id]),
            Vec::new(),
        ),
    ];
    if let Some(login) = &a.login {
        out.push((
            T::AccountByLogin,
            login.as_bytes().to_vec(),
            a.id.as_bytes().to_vec(),
        ));
    }
    if let Some(service) = &a.service_id {
        out.push((T::AccountsByService, key(&[service, &a.id]), Vec::new()));
    }
    for h in &a.habilitations {
        out.push((
            T::AccountsByProfile,
            key(&[&h.profile.to_string(), &a.id]),
            Vec::new(),
        ));
    }
    for d in &a.delegations {
        out.push((
            T::DelegationsByProfile,
            key(&[&d.profile.to_string(), &a.id]),
            Vec::new(),
        ));
    }
    out
}
