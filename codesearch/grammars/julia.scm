; Chunk definitions for Julia. `f(x) = ...` is a function too, its right side the @body; the
; `function` form has no body node (its statements are its own children), so it captures none.
; `Base.show(...)` is named `Base.show`, a method. A docstring is a string statement right above
; what it documents.
(function_definition
  (signature
    [
      (identifier) @name
      (call_expression . [(identifier) (field_expression) (operator)] @name)
      (typed_expression . (call_expression . [(identifier) (field_expression) (operator)] @name))
      (where_expression . (call_expression . [(identifier) (field_expression) (operator)] @name))
      (where_expression . (typed_expression . (call_expression . [(identifier) (field_expression) (operator)] @name)))
    ])) @definition.function

(assignment
  .
  [
    (call_expression . [(identifier) (field_expression) (operator)] @name)
    (typed_expression . (call_expression . [(identifier) (field_expression) (operator)] @name))
    (where_expression . (call_expression . [(identifier) (field_expression) (operator)] @name))
    (where_expression . (typed_expression . (call_expression . [(identifier) (field_expression) (operator)] @name)))
  ]
  .
  (operator)
  .
  (_) @body) @definition.function

(macro_definition (signature (call_expression . (identifier) @name))) @definition.function

(struct_definition
  (type_head
    [
      (identifier) @name
      (parametrized_type_expression . (identifier) @name)
      (binary_expression . (identifier) @name)
      (binary_expression . (parametrized_type_expression . (identifier) @name))
    ])) @definition.struct

(module_definition name: (identifier) @name) @definition.module

(source_file (string_literal) @leading)
(module_definition (string_literal) @leading)
