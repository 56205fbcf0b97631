//! The app's commands, one module per area. Each returns `Result<_, AppError>`.

pub mod app;
pub mod devices;
pub mod host;
pub mod media;
pub mod report;
pub mod trust;
