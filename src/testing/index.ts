/** rxon testing: public entry point of this room. */
export {};
