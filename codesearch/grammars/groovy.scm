; Chunk definitions for Groovy, Gradle scripts and Jenkinsfiles. Besides types and methods, a
; closure assigned to a name is a function, and so is a block call (`dependencies { ... }`,
; `pipeline { ... }`), named after its call; nested ones are part of the outermost. Calls with
; parentheses (`tasks.register('x') { ... }`) stay module code: the grammar parses their closure
; as a statement of its own. No pattern is anchored at `source_file`: the chunker queries each
; stretch between functions, and a root-anchored pattern made that quadratic.
(class_declaration name: (identifier) @name body: (class_body) @body) @definition.class
(interface_declaration name: (identifier) @name body: (class_body) @body) @definition.interface
(trait_declaration name: (identifier) @name body: (class_body) @body) @definition.trait
(annotation_type_declaration name: (identifier) @name body: (class_body) @body) @definition.interface
(enum_declaration name: (identifier) @name body: (enum_body) @body) @definition.enum
(record_declaration name: (identifier) @name body: (class_body) @body) @definition.record

(method_declaration name: (identifier) @name body: (block) @body) @definition.function
(constructor_declaration name: (identifier) @name body: (block) @body) @definition.function

(local_variable_declaration name: (identifier) @name value: (closure) @body) @definition.function
(local_variable_declaration (variable_declarator name: (identifier) @name value: (closure) @body)) @definition.function
(field_declaration (variable_declarator name: (identifier) @name value: (closure) @body)) @definition.function
(expression_statement (assignment_expression left: (identifier) @name right: (closure) @body)) @definition.function

(command_chain receiver: (identifier) @name argument: (closure) @body) @definition.function
(pipeline_statement "pipeline" @name body: (closure) @body) @definition.function
