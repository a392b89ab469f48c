import { createJSONStorage, type StateStorage } from 'zustand/middleware';

/** localStorage that never throws: where it is full or refused, lab results last for this visit only. */
const quietLocalStorage: StateStorage = {
  getItem: (name) => {
    try {
      return localStorage.getItem(name);
    } catch {
      return null;
    }
  },
  setItem: (name, value) => {
    try {
      localStorage.setItem(name, value);
    } catch {
      // Full or refused (private mode): the results stay in memory until the page closes.
    }
  },
  removeItem: (name) => {
    try {
      localStorage.removeItem(name);
    } catch {
      // Nothing kept to remove.
    }
  },
};

/** Where the Lab keeps its experiments' results, so that a reload shows them again. */
export const labStorage = createJSONStorage(() => quietLocalStorage);
