//! Users-imports jobs.

/// A users-imports job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The job object as Auth0 returns it.
    pub(crate) body: serde_json::Value,
}
