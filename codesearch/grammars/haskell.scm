; Chunk definitions for Haskell. Each equation of a function is a clause, so all of them make one
; definition, and its type signature leads it. Classes and instances are class-like: an
; instance is named after its class (`instance Monad.Monad Parser` after `Monad`), its methods
; `Class.method`.
(data_type name: (name) @name) @definition.data
(newtype name: (name) @name) @definition.newtype
(class name: (name) @name declarations: (class_declarations)? @body) @definition.class
(instance
  name: [(name) @name (qualified id: (name) @name)]
  declarations: (instance_declarations)? @body) @definition.instance

(function name: (variable) @name) @definition.clause
(bind name: (variable) @name) @definition.clause

(signature) @leading
