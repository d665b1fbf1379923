//! The catalogue as the operator API sees it: a port the server implements, so that
//! the operator face reloads the catalogue without naming the faces whose own checks
//! the new catalogue must pass.

/// A catalogue put in force.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Reloaded {
    /// The file it was read from.
    pub file: String,
    /// How many categories of structures it holds.
    pub categories: usize,
    /// How many applications it holds.
    pub applications: usize,
}

/// Reloading the catalogue from its file.
pub trait CatalogueReload: Send + Sync {
    /// Reads the file again and checks it as a whole; puts it in force and describes
    /// it, or keeps the catalogue in force and lists every problem.
    fn reload(&self) -> Result<Reloaded, Vec<String>>;
}
