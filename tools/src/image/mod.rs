//! Container images: OCI and Docker images run as Coracle VMs, with Docker's semantics.
//!
//! `reference` parses image names and sources; `store` keeps images as content-addressed
//! blobs; `import` brings them in from OCI layouts, archives, buildah's storage and registries
//! (`registry`); `layer` applies their layers onto an in-memory root filesystem (`tree`),
//! every blob checked against its digest (`digest`); `config` turns the image's config and
//! the `docker run` options into what the kernel runs; `run` hooks that into `launch`;
//! `commands` and `build` are `coracle pull/images/rmi/tag/inspect/build`.

pub mod build;
pub mod commands;
pub mod config;
pub mod digest;
pub mod import;
pub mod layer;
pub mod manifest;
pub mod reference;
pub mod registry;
pub mod run;
pub mod store;
pub mod tree;

use crate::error::RunError;

/// Why an image could not be read, stored or run.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {error}")]
    Digest {
        what: String,
        error: digest::DigestError,
    },
    #[error("layer {digest}: {error}")]
    Layer {
        digest: String,
        error: layer::LayerError,
    },
    #[error("{what}: invalid JSON: {why}")]
    Json { what: String, why: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the image store: {0}")]
    Store(String),
    #[error("{0}")]
    Registry(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Reference(#[from] reference::ReferenceError),
}

impl ImageError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ImageError::Io {
            what: what.into(),
            source,
        }
    }

    pub fn json(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        ImageError::Json {
            what: what.into(),
            why: e.to_string(),
        }
    }
}

impl From<ImageError> for RunError {
    fn from(e: ImageError) -> Self {
        RunError::Usage(e.to_string())
    }
}

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod tests;
