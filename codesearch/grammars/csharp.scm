; Chunk definitions for C#. Namespaces are transparent.
(class_declaration name: (identifier) @name body: (_) @body) @definition.class
(struct_declaration name: (identifier) @name body: (_) @body) @definition.struct
(interface_declaration name: (identifier) @name body: (_) @body) @definition.interface
(enum_declaration name: (identifier) @name body: (_) @body) @definition.enum
(record_declaration name: (identifier) @name body: (_) @body) @definition.class

(method_declaration name: (identifier) @name body: (_) @body) @definition.function
(constructor_declaration name: (identifier) @name body: (_) @body) @definition.function
(destructor_declaration name: (identifier) @name body: (_) @body) @definition.function
(operator_declaration operator: _ @name body: (_) @body) @definition.function
