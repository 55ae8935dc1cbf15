/** rxon matching: public entry point of this room. */
export {};
