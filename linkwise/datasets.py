"""Synthetic people with known truth, for demos, tests and benchmarks.

Everything is generated from a seed and small embedded reference lists (common US first names
and surnames with Zipf-like weights, nicknames, street names, plausible ZIP/city/state triples).
No real person's data is used; any likeness to a real person is coincidence.

:func:`people` makes one table to deduplicate; :func:`people_link` makes two tables to link.
A person's first record is clean apart from missing values; each other record is a copy
corrupted by typos, nicknames, swapped dates, moves, new phones and emails, format, case and
whitespace noise, and more missing values. People live in households that share an address, a
surname and sometimes a landline; with twins, Jr/Sr pairs and namesakes of common names these
make hard negatives.
"""

from __future__ import annotations

import calendar
import math
import operator

import numpy as np
import pyarrow as pa

from linkwise.errors import SettingsError

__all__ = ["PEOPLE_COLUMNS", "people", "people_link"]

PEOPLE_COLUMNS: tuple[str, ...] = (
    "record_id", "entity_id", "source", "first_name", "middle_name", "last_name", "dob",
    "sex", "address", "city", "state", "zip", "phone", "email",
)

# ------------------------------------------------------------------------ reference lists
# Names are in rough order of frequency and weighted by rank (Zipf-like).
_MALE = """James John Robert Michael William David Richard Charles Joseph Thomas Christopher
Daniel Paul Mark Donald George Kenneth Steven Edward Brian Ronald Anthony Kevin Jason Matthew Gary
Timothy Jose Larry Jeffrey Frank Scott Eric Stephen Andrew Raymond Gregory Joshua Jerry Dennis
Walter Patrick Peter Harold Douglas Henry Carl Arthur Ryan Roger Joe Juan Jack Albert Jonathan
Justin Terry Gerald Keith Samuel Willie Ralph Lawrence Nicholas Roy Benjamin Bruce Brandon Adam
Harry Fred Wayne Billy Steve Louis Jeremy Aaron Randy Howard Eugene Carlos Russell Bobby Victor
Martin Ernest Phillip Todd Jesse Craig Alan Shawn Clarence Sean Philip Chris Johnny Earl Jimmy
Antonio Danny Bryan Tony Luis Mike Stanley Leonard Nathan Dale Manuel Rodney Curtis Norman Allen
Marvin Vincent Glenn Jeffery Travis Jeff Chad Jacob Lee Melvin Alfred Kyle Francis Bradley Jesus
Herbert Frederick Ray Joel Edwin Don Eddie Ricky Troy Randall Barry Alexander Bernard Mario Leroy
Francisco Marcus Micheal Theodore Miguel Oscar Jay Jim Tom Calvin Alex Jon Tommy Zachary Tyler"""
_FEMALE = """Mary Patricia Linda Barbara Elizabeth Jennifer Maria Susan Margaret Dorothy Lisa Nancy
Karen Betty Helen Sandra Donna Carol Ruth Sharon Michelle Laura Sarah Kimberly Deborah Jessica
Shirley Cynthia Angela Melissa Brenda Amy Anna Rebecca Virginia Kathleen Pamela Martha Debra Amanda
Stephanie Carolyn Christine Marie Janet Catherine Frances Ann Joyce Diane Alice Julie Heather
Teresa Doris Gloria Evelyn Jean Cheryl Mildred Katherine Joan Ashley Judith Rose Janice Kelly
Nicole Judy Christina Kathy Theresa Beverly Denise Tammy Irene Jane Lori Rachel Marilyn Andrea
Kathryn Louise Sara Anne Jacqueline Wanda Bonnie Julia Ruby Lois Tina Phyllis Norma Paula Diana
Annie Lillian Emily Robin Peggy Crystal Gladys Rita Dawn Connie Florence Tracy Edna Tiffany Carmen
Rosa Cindy Grace Wendy Victoria Edith Kim Sherry Sylvia Josephine Thelma Shannon Sheila Ethel
Ellen Elaine Marjorie Carrie Charlotte Monica Esther Pauline Emma Juanita Anita Rhonda Hazel Amber
Eva Debbie April Leslie Clara Jamie Samantha Abigail Alexandra Caroline Megan Katie Jenny Becky"""
_SURNAMES = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez
Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores
Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner
Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz
Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez
Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross
Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales
Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace
Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro
Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman
Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason
Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren
Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne
Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight
Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry
Perkins Hoffman Johnston Matthews Pena Richards Contreras Willis Carpenter Lawrence Sandoval
Guerrero George Chapman Rios Estrada Ortega Watkins Greene Nunez Wheeler Valdez Harper Burke Larson
Santiago Maldonado Morrison Franklin Carlson Austin Dominguez Carr Lawson Jacobs O'Brien Lynch
Singh Vega Bishop Montgomery Oliver Jensen Harvey Williamson Gilbert Dean Sims Espinoza Howell Li
Wong Reid Hanson Le McCoy Garrett Burton Fuller Wang Weber Welch Rojas Lucas Marquez Fields Park
Yang Little Banks Padilla Day Walsh Bowman Schultz Luna Fowler Mejia Davidson Acosta Brewer May
Holland Juarez Newman Pearson Curtis Cortez Douglas Schneider Joseph Barrett Navarro Figueroa
Keller Avila Wade Molina Stanley Hopkins Campos Barnett Bates Chambers Caldwell Beck Lambert
Miranda Byrd Craig Ayala Lowe Frazier Powers Neal Leonard Gregory Carrillo Sutton Fleming Rhodes
Shelton Schwartz Norris Jennings Watts Duran Walters Cohen McDaniel Moran Parks Steele Vaughn
Becker Holt DeLeon Barker Terry Hale Leon Benson Haynes Horton Miles Lyons Pham Graves Bush
Thornton Wolfe Warner Cabrera McKinney Mann Zimmerman Dawson Lara Fletcher Page McCarthy Love
Robles Cervantes Solis Erickson Reeves Chang Klein Salinas Fuentes Baldwin Daniel Simon Velasquez
Hardy O'Connor O'Neill"""
# formal:nick,nick - used in both directions when corrupting
_NICK_M = """robert:bob,rob,bobby,robbie william:bill,will,billy,willie james:jim,jimmy,jamie
john:jack,johnny,jon richard:rick,dick,rich,richie michael:mike,mikey,mick charles:charlie,chuck
joseph:joe,joey thomas:tom,tommy christopher:chris daniel:dan,danny matthew:matt anthony:tony
donald:don,donnie steven:steve stephen:steve kenneth:ken,kenny andrew:andy,drew joshua:josh
edward:ed,eddie,ted ronald:ron,ronnie timothy:tim,timmy jeffrey:jeff gregory:greg patrick:pat
raymond:ray lawrence:larry gerald:jerry douglas:doug peter:pete frederick:fred,freddie
henry:hank,harry albert:al,bert walter:walt eugene:gene vincent:vince,vinny philip:phil
phillip:phil zachary:zach,zack jacob:jake nathan:nate nicholas:nick benjamin:ben samuel:sam
alexander:alex jonathan:jon theodore:ted,teddy,theo leonard:len,lenny harold:hal,harry
francis:frank bradley:brad randall:randy russell:russ stanley:stan"""
_NICK_F = """elizabeth:liz,beth,betty,lizzie katherine:kate,kathy,katie catherine:cathy,kate
kathleen:kathy,kate kathryn:kathy,kate margaret:maggie,peggy,meg jennifer:jen,jenny
patricia:pat,patty,trish susan:sue,susie deborah:deb,debbie debra:deb,debbie rebecca:becky,becca
jessica:jess,jessie kimberly:kim christina:chris,tina christine:chris,chrissy barbara:barb
dorothy:dot,dottie victoria:vicky,tori samantha:sam alexandra:alex,lexi abigail:abby
cynthia:cindy pamela:pam jacqueline:jackie theresa:terry,tess teresa:terry,tess judith:judy
amanda:mandy stephanie:steph melissa:missy,mel virginia:ginny frances:fran sandra:sandy
angela:angie caroline:carrie carolyn:carrie mary:molly josephine:josie,jo"""
_MIDDLE_M = "Lee Allen Wayne Ray Dean Eugene Alan Scott Lynn Edward Joseph Paul Michael James Louis"
_MIDDLE_F = "Ann Marie Lynn Lee Jean Rose Louise Mae Elizabeth Jane Michelle Renee Nicole Kay Sue"
_STREETS = """2nd 3rd 1st 4th Park 5th Main 6th Oak 7th Pine Maple Cedar 8th Elm Washington 9th
Lake Hill Walnut Sunset Lincoln Jackson Church River Highland Willow Jefferson 10th Adams Madison
Franklin Spring Ridge Meadow Forest Chestnut Center Mill Union Water Cherry Dogwood Hickory Birch
Spruce Laurel Magnolia Valley Lakeview Broad Market Front Prospect Grove Pleasant Academy School
Railroad Bridge Summit Woodland Greenwood Fairview Hillcrest Riverside Cambridge Lexington Monroe
Wilson Grant Kennedy Roosevelt Harrison Liberty Heritage Orchard Mountain Meadowbrook Sycamore
Aspen Poplar Beech Holly Juniper"""
# full form, abbreviations, weight
_STREET_TYPES = """Street/St/St./30 Avenue/Ave/Ave./Av/18 Road/Rd/Rd./12 Drive/Dr/Dr./12 Lane/Ln/7
Court/Ct/5 Boulevard/Blvd/3 Place/Pl/4 Way/Wy/4 Circle/Cir/2 Terrace/Ter/1 Parkway/Pkwy/1
Trail/Trl/1"""
_DIRECTIONS = "N/North S/South E/East W/West NE/Northeast NW/Northwest SE/Southeast SW/Southwest"
# zip, area code, city, state
_ZIPS = """02134 617 Boston MA; 02139 617 Cambridge MA; 02148 781 Malden MA; 02155 781 Medford MA;
01602 508 Worcester MA; 01103 413 Springfield MA; 01852 978 Lowell MA; 02903 401 Providence RI;
02860 401 Pawtucket RI; 06103 860 Hartford CT; 06510 203 New Haven CT; 06604 203 Bridgeport CT;
06901 203 Stamford CT; 03101 603 Manchester NH; 03060 603 Nashua NH; 03301 603 Concord NH;
04101 207 Portland ME; 05401 802 Burlington VT; 07102 973 Newark NJ; 07302 201 Jersey City NJ;
07501 973 Paterson NJ; 08608 609 Trenton NJ; 08002 856 Cherry Hill NJ; 00901 787 San Juan PR;
10001 212 New York NY; 10025 212 New York NY; 10458 718 Bronx NY; 11201 718 Brooklyn NY;
11215 718 Brooklyn NY; 10301 718 Staten Island NY; 14201 716 Buffalo NY; 14604 585 Rochester NY;
13202 315 Syracuse NY; 12207 518 Albany NY; 19103 215 Philadelphia PA; 19134 215 Philadelphia PA;
15213 412 Pittsburgh PA; 18101 610 Allentown PA; 17101 717 Harrisburg PA; 19801 302 Wilmington DE;
21201 410 Baltimore MD; 21224 410 Baltimore MD; 20001 202 Washington DC; 22201 703 Arlington VA;
23451 757 Virginia Beach VA; 23219 804 Richmond VA; 25301 304 Charleston WV; 27601 919 Raleigh NC;
28202 704 Charlotte NC; 27401 336 Greensboro NC; 29201 803 Columbia SC; 29401 843 Charleston SC;
30303 404 Atlanta GA; 31401 912 Savannah GA; 32801 407 Orlando FL; 33101 305 Miami FL;
33602 813 Tampa FL; 32202 904 Jacksonville FL; 33301 954 Fort Lauderdale FL;
33701 727 St. Petersburg FL; 35203 205 Birmingham AL; 36104 334 Montgomery AL;
37203 615 Nashville TN; 38103 901 Memphis TN; 39201 601 Jackson MS; 40202 502 Louisville KY;
40507 859 Lexington KY; 43215 614 Columbus OH; 44113 216 Cleveland OH; 45202 513 Cincinnati OH;
43604 419 Toledo OH; 46204 317 Indianapolis IN; 46802 260 Fort Wayne IN; 48201 313 Detroit MI;
49503 616 Grand Rapids MI; 48104 734 Ann Arbor MI; 50309 515 Des Moines IA; 53202 414 Milwaukee WI;
53703 608 Madison WI; 55401 612 Minneapolis MN; 55101 651 Saint Paul MN; 57104 605 Sioux Falls SD;
58102 701 Fargo ND; 59101 406 Billings MT; 60601 312 Chicago IL; 60614 773 Chicago IL;
60647 773 Chicago IL; 62701 217 Springfield IL; 63101 314 St. Louis MO; 64106 816 Kansas City MO;
65806 417 Springfield MO; 67202 316 Wichita KS; 68102 402 Omaha NE; 68508 402 Lincoln NE;
70112 504 New Orleans LA; 70801 225 Baton Rouge LA; 72201 501 Little Rock AR;
73102 405 Oklahoma City OK; 74103 918 Tulsa OK; 75201 214 Dallas TX; 75217 972 Dallas TX;
76102 817 Fort Worth TX; 77002 713 Houston TX; 77036 713 Houston TX; 78205 210 San Antonio TX;
78701 512 Austin TX; 79901 915 El Paso TX; 78401 361 Corpus Christi TX; 76010 817 Arlington TX;
80202 303 Denver CO; 80903 719 Colorado Springs CO; 80012 303 Aurora CO; 82001 307 Cheyenne WY;
83702 208 Boise ID; 84101 801 Salt Lake City UT; 85004 602 Phoenix AZ; 85701 520 Tucson AZ;
85201 480 Mesa AZ; 87102 505 Albuquerque NM; 87501 505 Santa Fe NM; 89101 702 Las Vegas NV;
89501 775 Reno NV; 90012 213 Los Angeles CA; 90026 213 Los Angeles CA; 90802 562 Long Beach CA;
91101 626 Pasadena CA; 92101 619 San Diego CA; 92701 714 Santa Ana CA; 92501 951 Riverside CA;
93721 559 Fresno CA; 94102 415 San Francisco CA; 94110 415 San Francisco CA; 94612 510 Oakland CA;
95113 408 San Jose CA; 95814 916 Sacramento CA; 92805 714 Anaheim CA; 94704 510 Berkeley CA;
96813 808 Honolulu HI; 99501 907 Anchorage AK; 97204 503 Portland OR; 97401 541 Eugene OR;
97301 503 Salem OR; 98101 206 Seattle WA; 98402 253 Tacoma WA; 99201 509 Spokane WA;
98004 425 Bellevue WA; 98660 360 Vancouver WA"""
_DOMAINS = """gmail.com:36 yahoo.com:13 hotmail.com:9 outlook.com:7 icloud.com:6 aol.com:5
comcast.net:4 msn.com:2 live.com:2 att.net:2 verizon.net:2 sbcglobal.net:2 me.com:1
protonmail.com:1 mail.com:1 ymail.com:1 charter.net:1 cox.net:1 bellsouth.net:1"""
_EMAILS = ("{f}.{l}:26 {i}{l}:15 {f}{l}:12 {f}_{l}:5 {f}.{l}{yy}:10 {f}{k}:9 {l}{i}:4 {i}.{l}:5"
           " {f}.{m}.{l}:4 {nick}{l}{kk}:10")
_SOURCES, _SOURCE_W = ("crm", "billing", "web", "support"), (0.35, 0.25, 0.25, 0.15)
_PHONES = ("({a}) {e}-{n}", "{a}-{e}-{n}", "{a}{e}{n}", "+1 {a} {e} {n}", "{a}.{e}.{n}")
_PHONE_W = (0.3, 0.3, 0.2, 0.1, 0.1)
_UNITS, _UNIT_W = ("Apt {}", "Unit {}", "# {}", "#{}", "Apt. {}"), (0.6, 0.2, 0.2, 0, 0)
_HOUSEHOLD_P = (0.75, 0.15, 0.05, 0.03, 0.015, 0.005)  # 1..6 members in the data
_CLUSTER_P = np.r_[0.5, 0.5 * (_k := np.arange(2, 16) ** -2.85) / _k.sum()]  # 1..15 records
_KEY_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")


def _weights(n: int, shift: float, s: float = 1.0) -> np.ndarray:
    w = (np.arange(1, n + 1) + shift) ** -s
    return w / w.sum()


def _split(text: str, sep: str = " ") -> tuple[list[str], np.ndarray]:
    """``"a:3 b:1"`` -> (["a", "b"], normalised weights)."""
    pairs = [t.rsplit(sep, 1) for t in text.split()]
    w = np.array([float(x) for _, x in pairs])
    return [a for a, _ in pairs], w / w.sum()


def _nick_maps(text: str) -> dict[str, list[str]]:
    """Formal -> nicknames and nickname -> formal names, in one dict."""
    out: dict[str, list[str]] = {}
    for item in text.split():
        formal, nicks = item.split(":")
        out[formal] = nicks.split(",")
        for nick in out[formal]:
            out.setdefault(nick, []).append(formal)
    return out


def _neighbours() -> dict[str, str]:
    """Keys next to each key on a QWERTY keyboard (letters to letters, digits to digits)."""
    pos = {c: (r, i + (0.0, 0.5, 0.75, 1.25)[r]) for r, row in enumerate(_KEY_ROWS)
           for i, c in enumerate(row)}
    return {c: "".join(d for d, (r2, x2) in pos.items() if d != c and abs(r2 - r) <= 1
                       and abs(x2 - x) <= 1 and d.isdigit() == c.isdigit())
            for c, (r, x) in pos.items()}


_MALE_NAMES, _FEMALE_NAMES, _SURNAME_LIST, _STREET_LIST = (
    np.array(t.split(), dtype=object) for t in (_MALE, _FEMALE, _SURNAMES, _STREETS))
_MALE_W, _FEMALE_W = _weights(len(_MALE_NAMES), 6), _weights(len(_FEMALE_NAMES), 6)
_SURNAME_W, _STREET_W = _weights(len(_SURNAME_LIST), 10), _weights(len(_STREET_LIST), 3, 0.7)
_MIDDLE = {"M": np.array(_MIDDLE_M.split(), object), "F": np.array(_MIDDLE_F.split(), object)}
_TYPES, _TYPE_W = _split(_STREET_TYPES, "/")
_TYPES = [t.split("/") for t in _TYPES]
_N_FORMS = np.array([len(t) for t in _TYPES])
_DIRS = [d.split("/") for d in _DIRECTIONS.split()]
_ZIP_ROWS = [z.split() for z in _ZIPS.split(";")]
_ZIP, _AREA, _STATE = (np.array([r[k] for r in _ZIP_ROWS], dtype=object) for k in (0, 1, -1))
_CITY = np.array([" ".join(r[2:-1]) for r in _ZIP_ROWS], dtype=object)
_DOMAIN_LIST, _DOMAIN_W = _split(_DOMAINS, ":")
_EMAIL_PATS, _EMAIL_W = _split(_EMAILS, ":")
_NICKS = {"M": _nick_maps(_NICK_M), "F": _nick_maps(_NICK_F)}
_NEAR = _neighbours()
_PUNCT = str.maketrans("", "", "'-.,")
_NOT_ALPHA = str.maketrans("", "", "'-. ")
_EPOCH = np.datetime64("1970-01-01", "D")


def _day(iso: str) -> int:
    return int((np.datetime64(iso, "D") - _EPOCH).astype(np.int64))


# ---------------------------------------------------------------------- value corruptions
# Each takes a value and a list of six uniform random numbers and returns the new value.
def _typo(s: str, u: list[float]) -> str:
    """One keyboard slip: insert or substitute a neighbouring key, delete, or transpose."""
    n = len(s)
    if n < 2:
        return s
    p = 0 if u[1] < 0.08 else min(n - 1, 1 + int(u[2] * (n - 1)))
    c = s[p]
    near = _NEAR.get(c.lower(), "")
    r = near[int(u[3] * len(near))] if near else "e"
    op = int(u[0] * 4)
    if op == 1 and n > 2:
        return s[:p] + s[p + 1:]
    if op == 3 and p < n - 1 and s[p] != s[p + 1]:
        return s[:p] + s[p + 1] + s[p] + s[p + 2:]
    if op == 0:
        return s[:p + 1] + (r.upper() if s.isupper() else r) + s[p + 1:]
    return s[:p] + (r.upper() if c.isupper() else r) + s[p + 1:]


def _text_noise(s: str, u: list[float]) -> str:
    """Upper or lower case, a stray or doubled space, or punctuation dropped."""
    if u[0] < 0.35:
        return s.upper()
    if u[0] < 0.5:
        return s.lower()
    if u[0] < 0.7:
        return " " + s if u[1] < 0.5 else s + " "
    if u[0] < 0.8:
        return s.replace(" ", "  ", 1) if " " in s else s + " "
    t = s.translate(_PUNCT)
    return t if t != s else s.upper()


def _surname_variant(s: str, u: list[float]) -> str:
    """'Lee Jr' -> 'Lee, Jr'; Smith-Jones -> Smith Jones, SmithJones, Smith or Jones;
    O'Brien -> OBrien or O Brien."""
    if s.endswith(" Jr"):
        return s[:-3] + (", Jr" if u[0] < 0.5 else " Jr.")
    if "-" in s:
        a, b = s.split("-", 1)
        return (a + " " + b, a + b, a, b)[int(u[0] * 4)]
    return s.replace("'", "" if u[0] < 0.6 else " ")


def _city_variant(s: str, u: list[float]) -> str:
    """St. Louis <-> Saint Louis or St Louis."""
    for a, b in (("St. ", "Saint "), ("Saint ", "St. ")):
        if s.startswith(a):
            return (b if u[0] < 0.5 else "St ") + s[len(a):]
    return s


def _set_digit(s: str, p: int, u: float) -> str:
    return s[:p] + str((int(s[p]) + 1 + int(u * 9)) % 10) + s[p + 1:]


def _dob_digit(s: str, u: list[float]) -> str:
    """One digit of the year's last two, the month or the day changed; still a valid date."""
    for k in range(10):
        t = _set_digit(s, (2, 3, 5, 6, 8, 9)[(int(u[0] * 6) + k) % 6], (u[1] + k / 9) % 1)
        y, m, d = int(t[:4]), int(t[5:7]), int(t[8:])
        if 1900 <= y <= 2015 and 1 <= m <= 12 and 1 <= d <= calendar.monthrange(y, m)[1]:
            return t
    return s


def _email_typo(s: str, u: list[float]) -> str:
    local, _, dom = s.partition("@")
    name, _, tld = dom.rpartition(".")
    if u[4] < 0.6 or not name:
        return _typo(local, u) + "@" + dom
    if u[4] < 0.75:
        return f"{local}@{name}.{'con' if tld == 'com' else tld[:-1]}"
    return f"{local}@{_typo(name, u)}.{tld}"


_FIX = {  # the one-liners
    "initial": lambda s, u: s[0] + "." if u[0] < 0.3 else s[0],
    "jr": lambda s, u: s[:-3] if s.endswith(" Jr") else s + " Jr",
    "dob_swap": lambda s, u: f"{s[:4]}-{s[8:]}-{s[5:7]}",
    "dob_year": lambda s, u: f"{int(s[:4]) + (1 if u[0] < 0.5 else -1):04d}"
                             f"{s[4:8]}{'28' if s[5:] == '02-29' else s[8:]}",
    "zip_digit": lambda s, u: _set_digit(s, int(u[0] * 5), u[1]),
    "zip_int": lambda s, u: s.lstrip("0") or "0",
    "zip4": lambda s, u: f"{s}-{int(u[0] * 10_000):04d}",
    "phone": lambda s, u: _set_digit(s, 3 + int(u[0] * 7), u[1]) if u[2] < .7 else _typo(s, u),
    "email_case": lambda s, u: s.upper() if u[0] < 0.6 else s[:1].upper() + s[1:],
}


# ----------------------------------------------------------------------------- generation
def _draw_sizes(rng: np.random.Generator, p, total: int) -> np.ndarray:
    """Sizes 1, 2, ... drawn with probabilities ``p`` until they sum to ``total`` exactly."""
    sizes = np.zeros(0, np.int64)
    mean = float(np.dot(np.arange(1, len(p) + 1), p))
    while sizes.sum() < total:
        sizes = np.r_[sizes, rng.choice(len(p), int(total / mean * 1.05) + 16, p=p) + 1]
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, total)) + 1 if total else 0
    sizes = sizes[:k]
    if k:
        sizes[-1] -= cum[k - 1] - total
    return sizes


def _choice(rng, values: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return values[rng.choice(len(values), n, p=weights)]


def _first_names(rng, male: np.ndarray) -> np.ndarray:
    out = _choice(rng, _FEMALE_NAMES, _FEMALE_W, len(male))
    out[male] = _choice(rng, _MALE_NAMES, _MALE_W, int(male.sum()))
    return out


def _phones(rng, area: np.ndarray) -> np.ndarray:
    """Ten-digit numbers in the given area codes (no N11 exchanges)."""
    exch = rng.integers(200, 1000, len(area))
    exch += exch % 100 == 11
    line = rng.integers(0, 10_000, len(area))
    return np.array([f"{a}{e:03d}{x:04d}" for a, e, x in zip(area, exch.tolist(), line.tolist())],
                    dtype=object)


def _addresses(rng, zip_idx: np.ndarray) -> dict[str, np.ndarray]:
    """Street addresses as parts, so that duplicates can spell them differently."""
    n = len(zip_idx)
    num = np.where(rng.random(n) < 0.05, rng.integers(1, 10, n),
                   np.exp(rng.uniform(math.log(10), math.log(15_000), n)).astype(np.int64))
    u = rng.random(n)
    dirs = np.where(u < 0.12, rng.integers(1, 5, n), np.where(u < 0.15, rng.integers(5, 9, n), 0))
    unit_num = np.where(rng.random(n) < 0.5, rng.integers(1, 40, n), rng.integers(100, 500, n))
    letter, has_unit = rng.random(n) < 0.15, rng.random(n) < 0.12
    units = [(f"{k}{'ABCD'[k % 4]}" if lt else str(k)) if h else ""
             for k, lt, h in zip(unit_num.tolist(), letter.tolist(), has_unit.tolist())]
    return {"num": num.astype(str).astype(object), "dir": dirs,
            "base": _choice(rng, _STREET_LIST, _STREET_W, n),
            "type": rng.choice(len(_TYPES), n, p=_TYPE_W),
            "form": (rng.random(n) < 0.65).astype(np.int64),  # full name or abbreviation
            "unit": np.array(units, dtype=object), "unit_fmt": rng.choice(5, n, p=_UNIT_W),
            "zip": zip_idx}


def _emails(rng, first, last, middle, dob, male) -> np.ndarray:
    """Two different email addresses per person, built from the name, unique across people."""
    n = len(first)
    pats = rng.choice(len(_EMAIL_PATS), (n, 2), p=_EMAIL_W)
    doms = rng.choice(len(_DOMAIN_LIST), (n, 2), p=_DOMAIN_W)
    same = (pats[:, 0] == pats[:, 1]) & (doms[:, 0] == doms[:, 1])
    doms[same, 1] = (doms[same, 1] + 1) % len(_DOMAIN_LIST)  # a new address looks different
    pats, doms = pats.tolist(), doms.tolist()
    nums = rng.integers(1, 1000, (n, 2)).tolist()
    used: set[str] = set()
    out = np.empty((n, 2), dtype=object)
    for i in range(n):
        f, s = first[i].lower().translate(_NOT_ALPHA), last[i].lower().translate(_NOT_ALPHA)
        m = middle[i][0].lower() if middle[i] else ""
        nick = _NICKS["M" if male[i] else "F"].get(f, [f])[0]
        for j in range(2):
            pat = _EMAIL_PATS[pats[i][j]] if m or "{m}" not in _EMAIL_PATS[pats[i][j]] else "{f}{l}"
            local = pat.format(f=f, l=s, i=f[0], m=m, yy=dob[i][2:4], k=nums[i][j],
                               kk=nums[i][j] % 100, nick=nick)
            email, extra = f"{local}@{_DOMAIN_LIST[doms[i][j]]}", 1
            while email in used:
                extra += 1
                email = f"{local}{extra}@{_DOMAIN_LIST[doms[i][j]]}"
            used.add(email)
            out[i, j] = email
    return out


def _persons(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` people living in households: true values, and alternatives for corruptions."""
    sizes = _draw_sizes(rng, _HOUSEHOLD_P, n)
    h = len(sizes)
    hh = np.repeat(np.arange(h), sizes)
    start = np.cumsum(sizes) - sizes
    pos = np.arange(n) - start[hh]
    spouse = (pos == 1) & ((sizes >= 2) & (rng.random(h) < 0.8))[hh]
    child = (pos > 0) & ~spouse
    has_child = np.bincount(hh[child], minlength=h) > 0
    male = rng.random(n) < 0.5
    flip = spouse & (rng.random(n) < 0.95)  # most couples are a man and a woman
    male[flip] = ~male[start[hh[flip]]]

    # dates of birth as days since 1970; children are 18-40 years younger than the head
    year, lo, hi = 365.25, _day("1935-01-01"), _day("2003-12-31")
    head = lo + (rng.random(h) * np.where(has_child, _day("1985-12-31") - lo, hi - lo)).astype(int)
    dob = head[hh].copy()
    dob[spouse] = np.minimum(hi, dob[spouse] + rng.normal(0, 4 * year, spouse.sum()).astype(int))
    base = head[hh[child]]
    span = np.minimum(40 * year, _day("2006-12-31") - base) - 18 * year
    dob[child] = base + (18 * year + rng.random(len(base)) * span).astype(int)

    first = _first_names(rng, male)
    twin, twin_u = np.zeros(n, bool), rng.random(n)
    for k in range(2, 6):  # twins: a child born on the same day as the previous child
        i = np.flatnonzero((pos == k) & child & (twin_u < 0.15))
        i = i[child[i - 1]]
        dob[i], twin[i] = dob[i - 1], True
    for _ in range(50):  # ... with a different first name
        same = np.flatnonzero(twin & (first == np.roll(first, 1)))
        if not len(same):
            break
        first[same] = _first_names(rng, male[same])
    middle = np.where(rng.random(n) < 0.55, _first_names(rng, male), None)
    for sx, sel in (("M", male), ("F", ~male)):
        need = sel & ((middle == None) | (middle == first))  # noqa: E711
        middle[need] = rng.choice(_MIDDLE[sx], int(need.sum()))
    has_middle = rng.random(n) < 0.62

    # surnames: spouses mostly take the head's; some keep their own or join both
    head_last = _choice(rng, _SURNAME_LIST, _SURNAME_W, h)
    last, own, u = head_last[hh].copy(), _choice(rng, _SURNAME_LIST, _SURNAME_W, n), rng.random(n)
    keep, joined = spouse & (u < 0.2), spouse & (u >= 0.2) & (u < 0.25)
    last[keep] = own[keep]
    last[joined] = [f"{a}-{b}" for a, b in zip(own[joined], head_last[hh[joined]])]
    alt_last = np.where(~male, own, None)  # a woman's maiden or other married name
    alt_last[keep & ~male] = head_last[hh[keep & ~male]]
    alt_last[alt_last == last] = None

    # Jr: some first sons of a male head have their father's first and middle names
    cand = np.flatnonzero(child & male & male[start[hh]])
    sons = cand[np.unique(hh[cand], return_index=True)[1]]
    jr = sons[rng.random(len(sons)) < 0.2]
    dad = start[hh[jr]]
    first[jr], middle[jr], has_middle[jr], has_middle[dad] = first[dad], middle[dad], True, True
    is_jr = np.zeros(n, bool)
    is_jr[jr] = True
    shown = np.flatnonzero(is_jr & (rng.random(n) < 0.4))
    display_last = last.copy()
    display_last[shown] = [s + " Jr" for s in last[shown]]

    # one address per household, then one "moved to" address per person (half in the same zip)
    zip_idx = rng.integers(0, len(_ZIP), h + n)
    same_zip = rng.random(n) < 0.5
    zip_idx[h:][same_zip] = zip_idx[hh[same_zip]]
    area = _AREA[zip_idx]
    landline = _phones(rng, area[:h])
    shared = (sizes >= 2) & (rng.random(h) < 0.3)
    phone = np.where(shared[hh] & (rng.random(n) < 0.7), landline[hh], _phones(rng, area[hh]))
    dob_s = (_EPOCH + dob).astype(str).astype(object)
    emails = _emails(rng, first, last, middle, dob_s, male)
    p = {"first": first, "middle": np.where(has_middle, middle, None), "last": display_last,
         "alt_last": alt_last, "male": male, "sex": np.where(male, "M", "F").astype(object),
         "dob": dob_s, "addr": hh, "alt_addr": h + np.arange(n), "A": _addresses(rng, zip_idx),
         "phone": np.where(rng.random(n) < 0.84, phone, None), "alt_phone": _phones(rng, area[h:]),
         "phone_fmt": rng.choice(len(_PHONES), n, p=_PHONE_W),
         "email": np.where(rng.random(n) < 0.78, emails[:, 0], None), "alt_email": emails[:, 1],
         "jr": is_jr}
    for f, rate in _CLEAN_MISSING.items():  # gaps in the person's clean record
        p["miss_" + f] = rng.random(n) < rate
    return p


# share of clean records missing a value, and extra share of corrupted records missing it
_CLEAN_MISSING = {"first_name": .01, "middle_name": .02, "last_name": .005, "dob": .02,
                  "sex": .02, "address": .02, "city": .02, "state": .015, "zip": .02,
                  "phone": .03, "email": .02}
_DROPPED = {"first_name": .02, "middle_name": .15, "last_name": .01, "dob": .04, "sex": .03,
            "address": .04, "city": .03, "state": .02, "zip": .04, "phone": .08, "email": .10}


def _records(rng, p: dict, pidx: np.ndarray, clean: np.ndarray, noise: float) -> dict:
    """Field values of records of people ``pidx``; the records not ``clean`` are corrupted."""
    r = len(pidx)

    def pick(prob: float, where=None) -> np.ndarray:
        mask = ~clean & (rng.random(r) < min(1.0, prob * noise))
        return np.flatnonzero(mask if where is None else mask & where)

    def apply(values: np.ndarray, prob: float, fn, where=None) -> None:
        idx = pick(prob, where)
        for i, u in zip(idx.tolist(), rng.random((len(idx), 6)).tolist()):
            if values[i] is not None:
                values[i] = fn(values[i], u)

    def present(values: np.ndarray) -> np.ndarray:
        return np.array([v is not None for v in values], bool)

    # names
    male = p["male"][pidx]
    first, middle, last = p["first"][pidx], p["middle"][pidx], p["last"][pidx]
    idx = pick(0.10)
    for i, u in zip(idx.tolist(), rng.random(len(idx)).tolist()):
        other = _NICKS["M" if male[i] else "F"].get(first[i].lower())
        if other:  # nickname for formal name, or formal name for nickname
            first[i] = other[int(u * len(other))].capitalize()
    apply(first, 0.06, _typo)
    apply(first, 0.03, _FIX["initial"])
    apply(middle, 0.30, _FIX["initial"])
    apply(middle, 0.02, _typo)
    alt = p["alt_last"][pidx]
    idx = pick(0.06, present(alt))  # married or maiden name
    last[idx] = alt[idx]
    apply(last, 0.30, _FIX["jr"], p["jr"][pidx])
    apply(last, 0.40, _surname_variant)
    apply(last, 0.06, _typo)
    idx = pick(0.01)
    first[idx], last[idx] = last[idx], first[idx]
    for col in (first, middle, last):
        apply(col, 0.05, _text_noise)
    # date of birth and sex
    dob = p["dob"][pidx]
    day, month = (np.array([int(s[k:k + 2]) for s in dob]) for k in (8, 5))
    apply(dob, 0.03, _FIX["dob_swap"], (day <= 12) & (day != month))
    apply(dob, 0.03, _dob_digit)
    apply(dob, 0.02, _FIX["dob_year"])
    sex = p["sex"][pidx]
    idx = pick(0.003)
    sex[idx] = np.where(sex[idx] == "M", "F", "M")
    # address, moved or spelt differently
    a, aid = p["A"], p["addr"][pidx].copy()
    idx = pick(0.07)
    aid[idx] = p["alt_addr"][pidx[idx]]
    typ, form, dirs = a["type"][aid], a["form"][aid].copy(), a["dir"][aid].copy()
    unit, unit_fmt = a["unit"][aid].copy(), a["unit_fmt"][aid].copy()
    idx = pick(0.20)
    nf = _N_FORMS[typ[idx]]
    form[idx] = (form[idx] + 1 + (rng.random(len(idx)) * (nf - 1)).astype(np.int64)) % nf
    idx = pick(0.30, dirs > 0)
    dirs[idx] = np.where(rng.random(len(idx)) < 0.5, -dirs[idx], 0)  # negative: spelt out
    unit[pick(0.20, unit != "")] = ""
    idx = pick(0.20)
    unit_fmt[idx] = rng.integers(0, len(_UNITS), len(idx))
    address = np.array([" ".join(x for x in (
        num, _DIRS[abs(d) - 1][d < 0] if d else "", base, _TYPES[t][f],
        _UNITS[uf].format(un) if un else "") if x) for num, d, base, t, f, un, uf in zip(
        a["num"][aid], dirs.tolist(), a["base"][aid], typ.tolist(), form.tolist(), unit,
        unit_fmt.tolist())], dtype=object)
    apply(address, 0.03, _typo)
    apply(address, 0.05, _text_noise)
    zi = a["zip"][aid]
    city, state, zipc = _CITY[zi], _STATE[zi], _ZIP[zi]
    apply(city, 0.30, _city_variant)
    apply(city, 0.02, _typo)
    apply(city, 0.05, _text_noise)
    apply(state, 0.02, lambda s, u: s.lower())
    apply(zipc, 0.02, _FIX["zip_digit"])
    apply(zipc, 0.30, _FIX["zip_int"], np.array([z[0] == "0" for z in zipc], bool))
    apply(zipc, 0.03, _FIX["zip4"])
    # phone and email
    phone = p["phone"][pidx]
    idx = pick(0.04, present(phone))
    phone[idx] = p["alt_phone"][pidx[idx]]
    apply(phone, 0.02, _FIX["phone"])
    fmt = p["phone_fmt"][pidx].copy()
    idx = pick(0.50)
    fmt[idx] = rng.choice(len(_PHONES), len(idx), p=_PHONE_W)
    phone = np.array([None if s is None else _PHONES[k].format(a=s[:3], e=s[3:6], n=s[6:])
                      for s, k in zip(phone, fmt.tolist())], dtype=object)
    email = p["email"][pidx]
    idx = pick(0.05, present(email))
    email[idx] = p["alt_email"][pidx[idx]]
    apply(email, 0.02, _email_typo)
    apply(email, 0.03, _FIX["email_case"])
    out = {"first_name": first, "middle_name": middle, "last_name": last, "dob": dob,
           "sex": sex, "address": address, "city": city, "state": state, "zip": zipc,
           "phone": phone, "email": email}
    # missing values: a clean record's gaps are copied or filled in, and more are made
    for col, drop in _DROPPED.items():
        miss = p["miss_" + col][pidx].copy()
        miss[pick(0.5)] = False
        miss[pick(drop)] = True
        out[col][miss] = None
    return out


def _string_array(values) -> pa.Array:
    """A pyarrow string array from str-or-None values, built from buffers (fast, no pandas)."""
    values = np.asarray(values, dtype=object)
    valid = values != None  # noqa: E711
    strs = np.where(valid, values, "").tolist()
    data = "".join(strs)
    if data.isascii():
        data, lengths = data.encode("ascii"), np.fromiter(map(len, strs), np.int64, len(strs))
    else:
        strs = [v.encode() for v in strs]
        data, lengths = b"".join(strs), np.fromiter(map(len, strs), np.int64, len(strs))
    offsets = np.zeros(len(strs) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    buffers = [pa.py_buffer(np.packbits(valid, bitorder="little")), pa.py_buffer(offsets),
               pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(strs), buffers,
                                 null_count=len(strs) - int(valid.sum()))


def _table(cols: dict) -> pa.Table:
    return pa.table({c: _string_array(cols[c]) for c in PEOPLE_COLUMNS})


def _check(n_records, seed, noise, overlap=0.5) -> tuple[int, float, float]:
    try:
        n, seed = operator.index(n_records), operator.index(seed)
        noise, overlap = float(noise), float(overlap)
    except (TypeError, ValueError):
        raise SettingsError("n_records and seed must be whole numbers, noise and overlap "
                            f"numbers; got {n_records!r}, {seed!r}, {noise!r}, {overlap!r}."
                            ) from None
    if n < 0 or seed < 0:
        raise SettingsError(f"n_records and seed must be 0 or more; got {n} and {seed}.")
    if not (math.isfinite(noise) and noise >= 0):
        raise SettingsError(f"noise must be a number >= 0 (1 is typical); got {noise}.")
    if not 0 <= overlap <= 1:
        raise SettingsError(f"overlap must be between 0 and 1; got {overlap}.")
    return n, noise, overlap


def people(n_records: int = 10_000, *, seed: int = 1, noise: float = 1.0) -> pa.Table:
    """Generate a synthetic table of people to deduplicate, with known truth.

    Each person has 1 to 15 records: about half are singletons, two records a person
    on average. A person's first record is clean apart from missing values; the others
    are corrupted copies. ``entity_id`` says which records are the same person.

    Parameters
    ----------
    n_records : int, default 10_000
        Number of rows to return, exactly.
    seed : int, default 1
        Seed for :func:`numpy.random.default_rng`. The same arguments always give the
        same table, rows in the same order.
    noise : float, default 1.0
        Multiplies every corruption probability. ``0`` makes duplicates exact copies of
        the person's first record apart from ``record_id`` and ``source``; ``2``
        doubles the corruption rates (each capped at 1).

    Returns
    -------
    pyarrow.Table
        Columns :data:`PEOPLE_COLUMNS`, all strings with nulls for missing values, rows
        in shuffled order. ``record_id`` runs ``"R0000001"``, ``"R0000002"``... down
        the rows, ``entity_id`` (``"E000001"``...) is numbered by first appearance.

    Examples
    --------
    >>> from linkwise.datasets import people
    >>> table = people(1_000, seed=7)
    >>> table.num_rows, table.column_names[:3]
    (1000, ['record_id', 'entity_id', 'source'])
    >>> table.column("record_id")[0].as_py()
    'R0000001'
    """
    n, noise, _ = _check(n_records, seed, noise)
    rng = np.random.default_rng(seed)
    sizes = _draw_sizes(rng, _CLUSTER_P, n)
    p = _persons(rng, len(sizes))
    pidx = np.repeat(np.arange(len(sizes)), sizes)
    clean = np.zeros(n, bool)
    clean[np.cumsum(sizes) - sizes] = True
    cols = _records(rng, p, pidx, clean, noise)
    order = rng.permutation(n)
    cols = {k: v[order] for k, v in cols.items()}
    shuffled = pidx[order]
    number = np.empty(len(sizes), np.int64)
    number[np.argsort(np.unique(shuffled, return_index=True)[1])] = np.arange(1, len(sizes) + 1)
    cols["entity_id"] = [f"E{k:06d}" for k in number[shuffled].tolist()]
    cols["record_id"] = [f"R{k:07d}" for k in range(1, n + 1)]
    cols["source"] = np.array(_SOURCES, dtype=object)[rng.choice(4, n, p=_SOURCE_W)]
    return _table(cols)


def people_link(n_records: int = 10_000, *, seed: int = 1, overlap: float = 0.5,
                noise: float = 1.0) -> tuple[pa.Table, pa.Table]:
    """Generate two synthetic tables of people to link, with known truth.

    Table A gets ``ceil(n_records / 2)`` rows and B the rest. About 3% of each table's
    rows are internal duplicates; otherwise a table holds one record per person. A share
    ``overlap`` of the people in the table with fewer people also appear in the other;
    of such a pair of records one is clean and the other a corrupted copy.

    Parameters
    ----------
    n_records : int, default 10_000
        Rows in A and B together.
    seed : int, default 1
        Seed for :func:`numpy.random.default_rng`; the same arguments give the same tables.
    overlap : float, default 0.5
        From 0 to 1: the share of the smaller table's people who are also in the other.
    noise : float, default 1.0
        Multiplies every corruption probability; ``0`` makes duplicates exact copies.

    Returns
    -------
    tuple of pyarrow.Table
        ``(a, b)``, each with columns :data:`PEOPLE_COLUMNS`, all strings. Record ids run
        ``"A0000001"``... and ``"B0000001"``..., ``source`` is ``"A"`` or ``"B"``, and
        ``entity_id`` is shared by the records of one person across both tables.

    Examples
    --------
    >>> from linkwise.datasets import people_link
    >>> a, b = people_link(2_000, seed=3, overlap=0.8)
    >>> a.num_rows, b.num_rows, b.column("record_id")[0].as_py()
    (1000, 1000, 'B0000001')
    """
    n, noise, overlap = _check(n_records, seed, noise, overlap)
    rng = np.random.default_rng(seed)
    rows = ((n + 1) // 2, n // 2)
    dups = [min(round(0.03 * k), max(k - 1, 0)) for k in rows]
    size = [k - d for k, d in zip(rows, dups)]  # people per table
    s = round(overlap * min(size))
    total = size[0] + size[1] - s
    p = _persons(rng, total)
    perm = rng.permutation(total)  # the first s people are in both tables
    clean_in_a = rng.random(s) < 0.5
    pidx, clean = [], []
    for t, members in enumerate((perm[:size[0]], np.r_[perm[:s], perm[size[0]:]])):
        extra = rng.choice(members, dups[t], replace=dups[t] > len(members))
        pidx.append(np.r_[members, extra])
        clean.append(np.r_[clean_in_a if t == 0 else ~clean_in_a,
                           np.ones(size[t] - s, bool), np.zeros(dups[t], bool)])
    all_pidx = np.concatenate(pidx)
    cols = _records(rng, p, all_pidx, np.concatenate(clean), noise)
    number = rng.permutation(total) + 1
    tables = []
    for t, (lo, hi) in enumerate(((0, rows[0]), (rows[0], n))):
        order = lo + rng.permutation(hi - lo)
        part = {k: v[order] for k, v in cols.items()}
        part["entity_id"] = [f"E{k:06d}" for k in number[all_pidx[order]].tolist()]
        part["record_id"] = [f"{'AB'[t]}{k:07d}" for k in range(1, hi - lo + 1)]
        part["source"] = ["AB"[t]] * (hi - lo)
        tables.append(_table(part))
    return tables[0], tables[1]
