// Plain English that the synthetic tokenizer learns its merges from, so common words and word pieces
// become single tokens the way they would in a real vocabulary. Written for this project.
export const SAMPLE_TEXT = `The lighthouse keeper woke before the sun, as he had done every morning for thirty years. He climbed the
narrow stairs, counted the steps out of habit, and checked the lamp, the lens and the small brass clock that
never seemed to agree with the radio. Outside, the sea was calm and grey, and a few boats were already leaving
the harbour for the fishing grounds in the north.

When the first light reached the rocks, he wrote three lines in the log: the wind, the weather and the number
of ships he had seen. Nothing interesting had happened in the night. Still, he liked writing it down, because
a record that is kept every day becomes a kind of story, even when each page says almost the same thing.

Computers keep records too. A program that reads a long document does not remember every word equally; it
stores what it has read in a cache, and it can decide which parts are important enough to keep. If the cache
is compressed well, the program answers questions about the document quickly and uses far less memory. If it
is compressed badly, the answers become vague, and the user notices at once.

"How many ships passed yesterday?" asked the inspector, who visited twice a year. The keeper opened the log,
found the page and read the number aloud: forty-two, which was more than usual for the season. The inspector
nodded, made a note in her own book, and asked whether the new battery had arrived. It had not. They agreed to
order another one, and to test the emergency light on Friday at 10:30, weather permitting.

Small models are useful for testing. They run in a fraction of a second, they fit in a few hundred kilobytes,
and when they are built with the same shapes and rules as the large ones, a bug in the engine shows up in the
small model first. The numbers they produce mean nothing on their own, but they must be exactly the numbers
that a careful reference implementation would produce, step after step, token after token.

In the evening the wind turned to the west. The keeper lit the lamp at 18:45, watched the beam sweep across the
water, and made tea. He thought about the inspector's question, and about all the ships he had counted over the
years: 1, 2, 3, and then thousands. Then he opened a new page, wrote the date, and waited for the night.
`;
