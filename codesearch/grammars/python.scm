; Chunk definitions for Python. Decorated forms win over the bare ones (same @name).
(class_definition name: (identifier) @name body: (block) @body) @definition.class
(function_definition name: (identifier) @name body: (block) @body) @definition.function

(decorated_definition
  definition: (class_definition name: (identifier) @name body: (block) @body)) @definition.class
(decorated_definition
  definition: (function_definition name: (identifier) @name body: (block) @body)) @definition.function
