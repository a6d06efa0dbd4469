// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A Chainlink AggregatorV3-like price feed for tests. Everything it answers lives
/// in storage and has a setter, because tests place its runtime code at an address with
/// `anvil_setCode` (no constructor runs there) and then set what it should say: a wrong
/// description, other decimals, a stale or negative answer.
contract MockEthUsdFeed {
    string private _description;
    uint8 private _decimals;
    uint80 private _roundId;
    int256 private _answer;
    uint256 private _startedAt;
    uint256 private _updatedAt;
    uint80 private _answeredInRound;

    function setDescription(string calldata description_) external {
        _description = description_;
    }

    function setDecimals(uint8 decimals_) external {
        _decimals = decimals_;
    }

    function setRoundData(uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
        external
    {
        _roundId = roundId;
        _answer = answer;
        _startedAt = startedAt;
        _updatedAt = updatedAt;
        _answeredInRound = answeredInRound;
    }

    function description() external view returns (string memory) {
        return _description;
    }

    function decimals() external view returns (uint8) {
        return _decimals;
    }

    function version() external pure returns (uint256) {
        return 4;
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (_roundId, _answer, _startedAt, _updatedAt, _answeredInRound);
    }
}
