; Chunk definitions for C++. `Foo::bar` names are qualified in code; templates wrap their definition.
(function_definition
  declarator: [
    (function_declarator declarator: (_) @name)
    (pointer_declarator declarator: (function_declarator declarator: (_) @name))
    (pointer_declarator declarator: (pointer_declarator declarator: (function_declarator declarator: (_) @name)))
    (reference_declarator (function_declarator declarator: (_) @name))
  ]
  body: (compound_statement) @body) @definition.function

(template_declaration
  (function_definition
    declarator: [
      (function_declarator declarator: (_) @name)
      (pointer_declarator declarator: (function_declarator declarator: (_) @name))
      (reference_declarator (function_declarator declarator: (_) @name))
    ]
    body: (compound_statement) @body)) @definition.function

(class_specifier name: (_) @name body: (_) @body) @definition.class
(struct_specifier name: (_) @name body: (_) @body) @definition.struct
(union_specifier name: (_) @name body: (_) @body) @definition.struct
(enum_specifier name: (_) @name body: (_) @body) @definition.enum

(template_declaration
  [
    (class_specifier name: (_) @name body: (_) @body)
    (struct_specifier name: (_) @name body: (_) @body)
  ]) @definition.class
