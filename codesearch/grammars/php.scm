; Chunk definitions for PHP. Namespaces are transparent.
(class_declaration name: (name) @name body: (declaration_list) @body) @definition.class
(interface_declaration name: (name) @name body: (declaration_list) @body) @definition.interface
(trait_declaration name: (name) @name body: (declaration_list) @body) @definition.trait
(enum_declaration name: (name) @name body: (_) @body) @definition.enum

(method_declaration name: (name) @name body: (compound_statement) @body) @definition.function
(function_definition name: (name) @name body: (compound_statement) @body) @definition.function
