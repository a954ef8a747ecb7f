//! Runs only the native-Rust benchmarks and prints their figures.
#![forbid(unsafe_code)]

#[path = "../native.rs"]
mod native;

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    for r in native::all_matching(&only) {
        println!("{:<8} {:>14.0} {:<10} {}", r.name, r.value, r.unit, r.note);
    }
}
