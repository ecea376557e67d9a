; Chunk definitions for Dart. The grammar puts a function's body beside its signature rather than
; in it, so the body is the definition and the signature leads it, as `///` comments and
; annotations (`@override`) lead what follows them.
(program
  [
    (function_signature name: (identifier) @name)
    (getter_signature name: (identifier) @name)
    (setter_signature name: (identifier) @name)
  ] @leading
  .
  (function_body) @definition.function @body)

(_
  (method_signature
    [
      (function_signature name: (identifier) @name)
      (getter_signature name: (identifier) @name)
      (setter_signature name: (identifier) @name)
      (operator_signature "operator" . _ @name)
      (constructor_signature . (identifier) @name . (formal_parameter_list))
      (constructor_signature . (identifier) . (identifier) @name)
      (factory_constructor_signature . (identifier) @name . (formal_parameter_list))
      (factory_constructor_signature . (identifier) . (identifier) @name)
    ]) @leading
  .
  (function_body) @definition.method @body)

(class_definition name: (identifier) @name body: (class_body) @body) @definition.class
(mixin_declaration (identifier) @name (class_body) @body) @definition.mixin
(extension_declaration name: (identifier) @name body: (extension_body) @body) @definition.extension
(extension_type_declaration name: (identifier) @name body: (class_body) @body) @definition.extension
(enum_declaration name: (identifier) @name body: (enum_body) @body) @definition.enum

[(documentation_comment) (annotation)] @leading
