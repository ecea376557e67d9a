; Chunk definitions for JavaScript, after grammars/ecmascript.scm.
(class_declaration name: (_) @name body: (class_body) @body) @definition.class

; Decorators before `export` belong to the exported class (Angular-style `@Component(...)`).
(export_statement declaration: (class_declaration name: (_) @name body: (class_body) @body)) @definition.class

(field_definition
  property: (_) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
  ]) @definition.function
