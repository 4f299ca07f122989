//! The platform simulator (placeholder; being written).
