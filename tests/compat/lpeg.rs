//! lpeg and re inside a service: a grammar in the style of sproto's
//! schema parser, re, error strings, and the instruction budget stopping a
//! long match.

#[test]
fn lpeg_grammar() {
    super::check_with("lpeg_grammar", &[("lua_instruction_budget", "2000000")]);
}
