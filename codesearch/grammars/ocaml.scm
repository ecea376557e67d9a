; Chunk definitions for OCaml (.ml and .mli: one grammar reads both). A `let` is a function when
; it takes parameters or is a `fun`/`function`; plain values stay module code, as constants do
; elsewhere. In `let f .. and g ..` the first binding names the chunk. A top-level `val` (what an
; .mli holds) is a chunk too; those in a `sig` stay in it, which reads as a whole.
(value_definition
  (let_binding
    pattern: [(value_name) (parenthesized_operator)] @name
    (parameter)
    body: (_) @body)) @definition.function
(value_definition
  (let_binding
    pattern: [(value_name) (parenthesized_operator)] @name
    body: [(fun_expression) (function_expression)] @body)) @definition.function
(compilation_unit
  [
    (value_specification [(value_name) (parenthesized_operator)] @name type: (function_type))
    (external (value_name) @name)
  ] @definition.function)

(type_definition (type_binding name: (_) @name body: (_) @body)) @definition.type
(module_definition (module_binding (module_name) @name body: (structure) @body)) @definition.module
(module_definition (module_binding (module_name) @name module_type: (signature) @body)) @definition.module
(module_type_definition (module_type_name) @name body: (signature) @body) @definition.module
(class_definition (class_binding (class_name) @name body: (object_expression) @body)) @definition.class
(method_definition (method_name) @name body: (_) @body) @definition.method
