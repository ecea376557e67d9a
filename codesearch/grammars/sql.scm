; Chunk definitions for SQL: CREATE statements, named by the object they create without its
; schema (a qualified function name would read as a method). The keyword before the name skips
; `IF NOT EXISTS` and tells the name from the objects the statement refers to. A `/* */` comment
; (marginalia to this grammar) leads a statement as a `--` comment does.
(statement
  (create_table [(keyword_table) (keyword_exists)] . (object_reference name: (_) @name)
    (column_definitions)? @body)) @definition.table
(statement
  (create_view [(keyword_view) (keyword_exists)] . (object_reference name: (_) @name)
    (create_query)? @body)) @definition.view
(statement
  (create_materialized_view [(keyword_view) (keyword_exists)] . (object_reference name: (_) @name)
    (create_query)? @body)) @definition.view
(statement (create_index column: (identifier) @name)) @definition.index
(statement (create_trigger [(keyword_trigger) (keyword_exists)] . (object_reference name: (_) @name))) @definition.trigger
(statement (create_type [(keyword_type) (keyword_exists)] . (object_reference name: (_) @name))) @definition.type
(statement
  (create_function [(keyword_function) (keyword_exists)] . (object_reference name: (_) @name)
    (function_body)? @body)) @definition.function
(statement
  (create_procedure [(keyword_procedure) (keyword_exists)] . (object_reference name: (_) @name)
    (procedure_body)? @body)) @definition.function

(marginalia) @leading
