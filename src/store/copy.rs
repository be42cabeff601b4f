//! Copying a deployment between databases (placeholder)
