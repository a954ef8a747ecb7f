//! `sprotoparser`: schema text to schema binary, byte for byte what
//! skynet's parser writes, with its error messages (without the
//! `file:line:` of the Lua source that raised them).

mod build;
pub mod grammar;

/// Parses the schema `text` (`file` names it in syntax errors; skynet's
/// default is `=text`).
pub fn parse(text: &[u8], file: &str) -> Result<Vec<u8>, String> {
    let items = grammar::parse(text, file)?;
    build::build(&items)
}

/// Builds the `sproto.parser` Lua module: `parse(text [, name])`.
pub fn module(lua: &mlua::Lua) -> mlua::Result<mlua::Value> {
    let raw = lua.create_table()?;
    raw.set(
        "parse",
        lua.create_function(
            |lua, (text, name): (mlua::LuaString, Option<mlua::LuaString>)| {
                let file = name.map_or_else(|| "=text".to_string(), |n| n.to_string_lossy());
                let mut meter = crate::meter::Meter::new(lua);
                // Parsing is linear in the text: charge it up front.
                for _ in 0..text.as_bytes().len() / 64 {
                    meter.step()?;
                }
                match parse(&text.as_bytes(), &file) {
                    Ok(bin) => lua.create_string(bin),
                    Err(e) => Err(mlua::Error::runtime(e)),
                }
            },
        )?,
    )?;
    crate::core::wrap(lua, raw, "=sproto.parser")
}

#[cfg(test)]
mod tests;
