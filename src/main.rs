//! The `mypostshare` binary: everything happens in `cli`.

fn main() {
    std::process::exit(mypostshare::cli::run());
}
