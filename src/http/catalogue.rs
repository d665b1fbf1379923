//! The catalogue as the operator API sees it: a port the server implements, so that
//! the operator face reloads the catalogue without naming the faces whose own checks
//! the new catalogue must pass.

/// Reloading the catalogue from its file.
pub trait CatalogueReload: Send + Sync {
    /// Reads the file again and checks it as a whole; puts it in force and describes it
    /// (as JSON), or keeps the catalogue in force and lists every problem.
    fn reload(&self) -> Result<serde_json::Value, Vec<String>>;
}
