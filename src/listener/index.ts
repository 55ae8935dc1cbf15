/** rxon listener: public entry point of this room. */
export {};
