// `sqlx::migrate!` embeds migrations/ at compile time; rebuild when a file
// there is added or changed (cargo does not know the macro reads them).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
