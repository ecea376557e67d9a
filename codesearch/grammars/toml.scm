; Chunk definitions for TOML: each table (`[tool.poetry]`) and array-of-tables entry (`[[bin]]`).
(table . [(bare_key) (quoted_key) (dotted_key)] @name) @definition.table
(table_array_element . [(bare_key) (quoted_key) (dotted_key)] @name) @definition.table
