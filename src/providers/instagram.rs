//! Instagram (in progress on this branch; not registered yet).
pub struct Instagram;
