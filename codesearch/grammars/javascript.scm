; Chunk definitions for JavaScript.
(class_declaration name: (_) @name body: (class_body) @body) @definition.class

; Decorators before `export` belong to the exported class (Angular-style `@Component(...)`).
(export_statement declaration: (class_declaration name: (_) @name body: (class_body) @body)) @definition.class

(function_declaration name: (_) @name body: (statement_block) @body) @definition.function
(generator_function_declaration name: (_) @name body: (statement_block) @body) @definition.function

(variable_declarator
  name: (identifier) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)
  ]) @definition.function

(method_definition name: (_) @name body: (statement_block) @body) @definition.function

(field_definition
  property: (_) @name
  value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
  ]) @definition.function
