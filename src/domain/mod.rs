//! The domain: pure types and rules, no I/O, no async.

pub mod account;
pub mod login;
pub mod password;
pub mod profile;
pub mod rights;
pub mod role;
pub mod siret;
pub mod structure;

pub use account::{
    Account, AccountState, Block, BlockReason, Credential, Delegation, Habilitation, PersonalData,
};
pub use password::PasswordPolicy;
pub use profile::ProfileId;
pub use rights::{Actor, Function, Permit, Refusal};
pub use role::Role;
pub use siret::Siret;
pub use structure::{Service, Structure};
