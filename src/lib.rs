pub mod clock; pub mod config; pub mod crypto; pub mod db; pub mod error; pub mod http; pub mod providers; pub mod sandbox;
