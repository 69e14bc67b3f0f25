window.BOOKS = [
  {title: "The Salt Road", author: "Maren Holt", year: 2011, isbn: "978-0-11-000101-1"},
  {title: "Winter Harbour", author: "Maren Holt", year: 2016, isbn: "978-0-11-000102-8"},
  {title: "A Grammar of Tides", author: "Joachim Pereira", year: 1998, isbn: "978-0-11-000103-5"},
  {title: "Lighthouse Keepers", author: "Asha Narayan", year: 2020, isbn: "978-0-11-000104-2"},
  {title: "The Cartographer's Daughter", author: "Elena Voss", year: 2005, isbn: "978-0-11-000105-9"},
  {title: "Knots and Splices", author: "Tom Aldous", year: 1979, isbn: "978-0-11-000106-6"},
  {title: "Northern Lights, Southern Seas", author: "Asha Narayan", year: 2023, isbn: "978-0-11-000107-3"},
  {title: "Mapping the Abyss", author: "Elena Voss", year: 2012, isbn: "978-0-11-000108-0"},
  {title: "Gull Island", author: "Priya Raman", year: 2019, isbn: "978-0-11-000109-7"},
  {title: "The Long Watch", author: "Joachim Pereira", year: 2003, isbn: "978-0-11-000110-3"}
];
