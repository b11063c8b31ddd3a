// Code derived from mcc_codes.csv in github.com/greggles/mcc-codes at commit
// 16e8ab1, which is released into the public domain (The Unlicense). The
// descriptions are the edited_description column, copied unchanged;
// TestTableMatchesFixture checks them against the fixture in
// shared/fixtures/mcc. Only consumer-relevant codes are kept (73 of 981).

package mcc

// descriptions maps a merchant category code to its description.
var descriptions = map[string]string{
	// Food and drink
	"5411": "Grocery Stores, Supermarkets",
	"5441": "Candy, Nut, and Confectionery Stores",
	"5462": "Bakeries",
	"5499": "Misc. Food Stores – Convenience Stores and Specialty Markets",
	"5812": "Eating places and Restaurants",
	"5813": "Drinking Places (Alcoholic Beverages), Bars, Taverns, Cocktail lounges, Nightclubs and Discotheques",
	"5814": "Fast Food Restaurants",
	"5921": "Package Stores – Beer, Wine, and Liquor",
	// Fuel, motoring and parking
	"5541": "Service Stations ( with or without ancillary services)",
	"5542": "Automated Fuel Dispensers",
	"5533": "Automotive Parts, Accessories Stores",
	"7538": "Automotive Service Shops",
	"7542": "Car Washes",
	"7523": "Automobile Parking Lots and Garages",
	"4784": "Toll and Bridge Fees",
	"7512": "Car Rental Companies ( Not Listed Below)",
	// Transit and travel
	"4111": "Local/Suburban Commuter Passenger Transportation – Railroads, Feries, Local Water Transportation.",
	"4112": "Passenger Railways",
	"4121": "Taxicabs and Limousines",
	"4131": "Bus Lines, Including Charters, Tour Buses",
	"4511": "Airlines, Air Carriers ( not listed elsewhere)",
	"4722": "Travel Agencies and Tour Operations",
	"7011": "Lodging – Hotels, Motels, Resorts, Central Reservation Services (not elsewhere classified)",
	// Digital goods, streaming and telecoms
	"5815": "Digital Goods: Media, Books, Movies, Music",
	"5816": "Digital Goods: Games",
	"5817": "Digital Goods: Applications (Excludes Games)",
	"5818": "Digital Goods: Large Digital Goods Merchant",
	"4899": "Cable and other pay television (previously Cable Services)",
	"4814": "Fax services, Telecommunication Services",
	"4816": "Computer Network Services",
	// Utilities and government
	"4900": "Electric, Gas, Sanitary and Water Utilities",
	"9399": "Government Services ( Not Elsewhere Classified)",
	"9402": "Postal Services – Government Only",
	// Shops
	"5200": "Home Supply Warehouse Stores",
	"5251": "Hardware Stores",
	"5261": "Nurseries – Lawn and Garden Supply Store",
	"5300": "Wholesale Clubs",
	"5310": "Discount Stores",
	"5311": "Department Stores",
	"5611": "Men’s and Boy’s Clothing and Accessories Stores",
	"5621": "Women’s Ready-to-Wear Stores",
	"5651": "Family Clothing Stores",
	"5661": "Shoe Stores",
	"5691": "Men’s and Women’s Clothing Stores",
	"5699": "Miscellaneous Apparel and Accessory Shops",
	"5712": "Furniture, Home Furnishings, and Equipment Stores, ExceptAppliances",
	"5722": "Household Appliance Stores",
	"5732": "Electronic Sales",
	"5912": "Drug Stores and Pharmacies",
	"5940": "Bicycle Shops – Sales and Service",
	"5941": "Sporting Goods Stores",
	"5942": "Book Stores",
	"5945": "Hobby, Toy, and Game Shops",
	"5947": "Card Shops, Gift, Novelty, and Souvenir Shops",
	"5977": "Cosmetic Stores",
	"5992": "Florists",
	"5995": "Pet Shops, Pet Foods, and Supplies Stores",
	"5999": "Miscellaneous and Specialty Retail Stores",
	// Services, health and leisure
	"0742": "Veterinary Services",
	"7216": "Dry Cleaners",
	"7230": "Barber and Beauty Shops",
	"7298": "Health and Beauty Shops",
	"7832": "Motion Picture Theaters",
	"7996": "Amusement Parks, Carnivals, Circuses, Fortune Tellers",
	"7997": "Membership Clubs (Sports, Recreation, Athletic), Country Clubs, and Private Golf Courses",
	"7999": "Recreation Services (Not Elsewhere Classified)",
	"8011": "Doctors and Physicians (Not Elsewhere Classified)",
	"8021": "Dentists and Orthodontists",
	"8043": "Opticians, Opticians Goods and Eyeglasses",
	"8099": "Medical Services and Health Practitioners (Not Elsewhere Classified)",
	"8299": "Schools and Educational Services ( Not Elsewhere Classified)",
	"8398": "Charitable and Social Service Organizations",
	// Cash
	"6011": "Financial Institutions – Manual Cash Disbursements",
}
