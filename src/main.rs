//! The binary: everything it does is in the library's composition root, `clinicload::app`
//! (compiled once there, where the rest of the code is, rather than again in this crate).

fn main() -> std::process::ExitCode {
    clinicload::app::main()
}
