; Chunk definitions for TypeScript and TSX (the TSX grammar uses this file too), after
; grammars/ecmascript.scm.
(class_declaration name: (_) @name body: (class_body) @body) @definition.class
(abstract_class_declaration name: (_) @name body: (class_body) @body) @definition.class
(interface_declaration name: (_) @name body: (interface_body) @body) @definition.interface
(enum_declaration name: (_) @name body: (enum_body) @body) @definition.enum

; Decorators before `export` belong to the exported class (Angular-style `@Component(...)`).
(export_statement
  declaration: [
    (class_declaration name: (_) @name body: (class_body) @body)
    (abstract_class_declaration name: (_) @name body: (class_body) @body)
  ]) @definition.class

(public_field_definition
  name: (_) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
  ]) @definition.function
